# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_reload_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color dry-run h/help V/version
end

function __fish_reload_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_reload_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_reload_using_subcommand
    set -l cmd (__fish_reload_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c reload -n "__fish_reload_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c reload -n "__fish_reload_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c reload -n "__fish_reload_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c reload -n "__fish_reload_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c reload -n "__fish_reload_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c reload -n "__fish_reload_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c reload -n "__fish_reload_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c reload -n "__fish_reload_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c reload -n "__fish_reload_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c reload -n "__fish_reload_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c reload -n "__fish_reload_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c reload -n "__fish_reload_needs_command" -l dry-run -d 'Print the diff (grants and memberships added/removed) without applying it (before `prune`, the same as its own --dry-run)'
complete -c reload -n "__fish_reload_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c reload -n "__fish_reload_needs_command" -s V -l version -d 'Print version'
complete -c reload -n "__fish_reload_needs_command" -f -a "history" -d 'List snapshots, oldest first'
complete -c reload -n "__fish_reload_needs_command" -f -a "rollback" -d 'Make an earlier snapshot active again'
complete -c reload -n "__fish_reload_needs_command" -f -a "prune" -d 'Delete old snapshots, keeping the active one and the newest others'
complete -c reload -n "__fish_reload_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c reload -n "__fish_reload_using_subcommand history" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c reload -n "__fish_reload_using_subcommand history" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c reload -n "__fish_reload_using_subcommand history" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c reload -n "__fish_reload_using_subcommand history" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand history" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c reload -n "__fish_reload_using_subcommand history" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand history" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c reload -n "__fish_reload_using_subcommand history" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c reload -n "__fish_reload_using_subcommand history" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c reload -n "__fish_reload_using_subcommand history" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c reload -n "__fish_reload_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c reload -n "__fish_reload_using_subcommand rollback" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c reload -n "__fish_reload_using_subcommand rollback" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c reload -n "__fish_reload_using_subcommand rollback" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c reload -n "__fish_reload_using_subcommand rollback" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand rollback" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c reload -n "__fish_reload_using_subcommand rollback" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand rollback" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c reload -n "__fish_reload_using_subcommand rollback" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c reload -n "__fish_reload_using_subcommand rollback" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c reload -n "__fish_reload_using_subcommand rollback" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c reload -n "__fish_reload_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c reload -n "__fish_reload_using_subcommand prune" -l keep -d 'How many snapshots to keep besides the active one' -r
complete -c reload -n "__fish_reload_using_subcommand prune" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c reload -n "__fish_reload_using_subcommand prune" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c reload -n "__fish_reload_using_subcommand prune" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c reload -n "__fish_reload_using_subcommand prune" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand prune" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c reload -n "__fish_reload_using_subcommand prune" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c reload -n "__fish_reload_using_subcommand prune" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c reload -n "__fish_reload_using_subcommand prune" -l dry-run -d 'List what would be deleted without deleting it'
complete -c reload -n "__fish_reload_using_subcommand prune" -l vacuum -d 'Then rewrite the state file without its free space, so it shrinks (local state file only; holds the write lock while it runs and needs free disk for a copy of the live data)'
complete -c reload -n "__fish_reload_using_subcommand prune" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c reload -n "__fish_reload_using_subcommand prune" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c reload -n "__fish_reload_using_subcommand prune" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c reload -n "__fish_reload_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c reload -n "__fish_reload_using_subcommand help; and not __fish_seen_subcommand_from history rollback prune help" -f -a "history" -d 'List snapshots, oldest first'
complete -c reload -n "__fish_reload_using_subcommand help; and not __fish_seen_subcommand_from history rollback prune help" -f -a "rollback" -d 'Make an earlier snapshot active again'
complete -c reload -n "__fish_reload_using_subcommand help; and not __fish_seen_subcommand_from history rollback prune help" -f -a "prune" -d 'Delete old snapshots, keeping the active one and the newest others'
complete -c reload -n "__fish_reload_using_subcommand help; and not __fish_seen_subcommand_from history rollback prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
