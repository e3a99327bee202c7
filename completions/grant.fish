# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_grant_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color h/help V/version
end

function __fish_grant_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_grant_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_grant_using_subcommand
    set -l cmd (__fish_grant_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c grant -n "__fish_grant_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c grant -n "__fish_grant_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_needs_command" -s V -l version -d 'Print version'
complete -c grant -n "__fish_grant_needs_command" -f -a "add" -d 'Stage an allow (or, with --deny, a deny) grant'
complete -c grant -n "__fish_grant_needs_command" -f -a "list" -d 'List grants (built-in role grants first)'
complete -c grant -n "__fish_grant_needs_command" -f -a "revoke" -d 'Revoke grants, all or nothing (ids, or - for stdin)'
complete -c grant -n "__fish_grant_needs_command" -f -a "check" -d 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)'
complete -c grant -n "__fish_grant_needs_command" -f -a "group" -d 'Manage group membership (groups are flat sets of principals)'
complete -c grant -n "__fish_grant_needs_command" -f -a "apply" -d 'Make a file\'s grants the full set of source file:<name> (all or nothing)'
complete -c grant -n "__fish_grant_needs_command" -f -a "export" -d 'Print the active grants as a file `apply` accepts'
complete -c grant -n "__fish_grant_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c grant -n "__fish_grant_using_subcommand add" -l subject -d 'user:<id>, group:<name> or worker:<id>' -r
complete -c grant -n "__fish_grant_using_subcommand add" -l action -d 'read, run, write, admin (repeat or comma-separate for several)' -r
complete -c grant -n "__fish_grant_using_subcommand add" -l resource -d '<kind>:<pattern>: an exact name, a prefix ending in *, or *; the kind may be *' -r
complete -c grant -n "__fish_grant_using_subcommand add" -l note -d 'A note for people' -r
complete -c grant -n "__fish_grant_using_subcommand add" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand add" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand add" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand add" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand add" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand add" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand add" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand add" -l deny -d 'Make this a deny grant (deny always wins, even over superusers)'
complete -c grant -n "__fish_grant_using_subcommand add" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand add" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand add" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand list" -l subject -d 'Only grants to this subject' -r
complete -c grant -n "__fish_grant_using_subcommand list" -l resource -d 'Only grants with exactly this resource pattern' -r
complete -c grant -n "__fish_grant_using_subcommand list" -l source -d 'Only grants from this source: cli, file:<name>, admins, builtin' -r
complete -c grant -n "__fish_grant_using_subcommand list" -l state -d 'Only active or only revoked grants' -r -f -a "active\t''
revoked\t''"
complete -c grant -n "__fish_grant_using_subcommand list" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand list" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand list" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand list" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand list" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand list" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand list" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand list" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand list" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand list" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand revoke" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand revoke" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand revoke" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand revoke" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand revoke" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand revoke" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand revoke" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand revoke" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand revoke" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand revoke" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand check" -l principal -d 'user:<id> or worker:<id>' -r
complete -c grant -n "__fish_grant_using_subcommand check" -l action -d 'read, run, write or admin' -r
complete -c grant -n "__fish_grant_using_subcommand check" -l resource -d '<kind>:<name>, e.g. worker:build-1' -r
complete -c grant -n "__fish_grant_using_subcommand check" -l batch -d 'Read NDJSON requests {"principal","action","resource"} from FILE or - and print one decision per line' -r
complete -c grant -n "__fish_grant_using_subcommand check" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand check" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand check" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand check" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand check" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand check" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand check" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand check" -l explain -d 'Also list near misses: this principal\'s grants that failed only on action or only on resource'
complete -c grant -n "__fish_grant_using_subcommand check" -l staged -d 'Evaluate the staged grants instead of the active snapshot'
complete -c grant -n "__fish_grant_using_subcommand check" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand check" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand check" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -f -a "add" -d 'Add principals to a group'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -f -a "remove" -d 'Remove principals from a group (all or nothing)'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -f -a "list" -d 'List groups and their members'
complete -c grant -n "__fish_grant_using_subcommand group; and not __fish_seen_subcommand_from add remove list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add principals to a group'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove principals from a group (all or nothing)'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List groups and their members'
complete -c grant -n "__fish_grant_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c grant -n "__fish_grant_using_subcommand apply" -l name -d 'Source name [default: the file name without extension, or stdin]' -r
complete -c grant -n "__fish_grant_using_subcommand apply" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand apply" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand apply" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand apply" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand apply" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand apply" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand apply" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand apply" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand apply" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand apply" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand export" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c grant -n "__fish_grant_using_subcommand export" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c grant -n "__fish_grant_using_subcommand export" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c grant -n "__fish_grant_using_subcommand export" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand export" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c grant -n "__fish_grant_using_subcommand export" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c grant -n "__fish_grant_using_subcommand export" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c grant -n "__fish_grant_using_subcommand export" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c grant -n "__fish_grant_using_subcommand export" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c grant -n "__fish_grant_using_subcommand export" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c grant -n "__fish_grant_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "add" -d 'Stage an allow (or, with --deny, a deny) grant'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "list" -d 'List grants (built-in role grants first)'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "revoke" -d 'Revoke grants, all or nothing (ids, or - for stdin)'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "check" -d 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "group" -d 'Manage group membership (groups are flat sets of principals)'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "apply" -d 'Make a file\'s grants the full set of source file:<name> (all or nothing)'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "export" -d 'Print the active grants as a file `apply` accepts'
complete -c grant -n "__fish_grant_using_subcommand help; and not __fish_seen_subcommand_from add list revoke check group apply export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c grant -n "__fish_grant_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Add principals to a group'
complete -c grant -n "__fish_grant_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "remove" -d 'Remove principals from a group (all or nothing)'
complete -c grant -n "__fish_grant_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List groups and their members'
