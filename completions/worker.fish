# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_worker_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color h/help V/version
end

function __fish_worker_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_worker_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_worker_using_subcommand
    set -l cmd (__fish_worker_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c worker -n "__fish_worker_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c worker -n "__fish_worker_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_needs_command" -s V -l version -d 'Print version'
complete -c worker -n "__fish_worker_needs_command" -f -a "connect" -d 'Enrol (or resume) and run dispatched steps until stopped'
complete -c worker -n "__fish_worker_needs_command" -f -a "list" -d 'List workers (revoked ones with --all)'
complete -c worker -n "__fish_worker_needs_command" -f -a "show" -d 'Show one worker'
complete -c worker -n "__fish_worker_needs_command" -f -a "revoke" -d 'Revoke workers and disconnect them now (ids, or - for stdin)'
complete -c worker -n "__fish_worker_needs_command" -f -a "drain" -d 'Stop sending new steps to a worker (audited; a running serve tells its live session)'
complete -c worker -n "__fish_worker_needs_command" -f -a "dispatch" -d 'Run a step on a worker and print its result; the exit code mirrors the step\'s (needs --server)'
complete -c worker -n "__fish_worker_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c worker -n "__fish_worker_using_subcommand connect" -l token -d 'Enrol token (mte_...); prefer --token-file, which keeps it out of `ps`' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l token-file -d 'File holding the enrol token' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l cache-dir -d 'Directory for the machine id and session credential (0700)' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l label -d 'k=v label (repeatable); name=... names the worker' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l capacity -d 'Steps run at once (1 or more)' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l allow-command -d 'Only run commands whose argv[0] matches (exact or prefix*; repeatable)' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l pin-sha256 -d 'Also require the server\'s public key to have this SHA-256 (base64 of the SPKI)' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l run-as -d 'Run steps as this user (name, uid or uid:gid); needs a root worker' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand connect" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand connect" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand connect" -l allow-root -d 'Let steps run as root (refused by default, like GitHub\'s runner)'
complete -c worker -n "__fish_worker_using_subcommand connect" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand connect" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand connect" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand list" -l stale -d 'Only workers not seen for this long' -r
complete -c worker -n "__fish_worker_using_subcommand list" -l label -d 'Only workers with this label, e.g. pool=build' -r
complete -c worker -n "__fish_worker_using_subcommand list" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand list" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand list" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand list" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand list" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand list" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand list" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand list" -l all -d 'Revoked workers too'
complete -c worker -n "__fish_worker_using_subcommand list" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand list" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand list" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand show" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand show" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand show" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand show" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand show" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand show" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand show" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand show" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand show" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand show" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand revoke" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand revoke" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand revoke" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand revoke" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand revoke" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand revoke" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand revoke" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand revoke" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand revoke" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand revoke" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand drain" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand drain" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand drain" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand drain" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand drain" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand drain" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand drain" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand drain" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand drain" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand drain" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand drain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l to -d 'Worker name' -r
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l select -d 'Any connected worker with this label, as key=value (e.g. pool=build)' -r
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l secret -d 'Secret from serve\'s --secrets-file to pass as an environment variable (repeatable)' -r
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l timeout -d 'Kill the step after this long' -r
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c worker -n "__fish_worker_using_subcommand dispatch" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c worker -n "__fish_worker_using_subcommand dispatch" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c worker -n "__fish_worker_using_subcommand dispatch" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c worker -n "__fish_worker_using_subcommand dispatch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "connect" -d 'Enrol (or resume) and run dispatched steps until stopped'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "list" -d 'List workers (revoked ones with --all)'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "show" -d 'Show one worker'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "revoke" -d 'Revoke workers and disconnect them now (ids, or - for stdin)'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "drain" -d 'Stop sending new steps to a worker (audited; a running serve tells its live session)'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "dispatch" -d 'Run a step on a worker and print its result; the exit code mirrors the step\'s (needs --server)'
complete -c worker -n "__fish_worker_using_subcommand help; and not __fish_seen_subcommand_from connect list show revoke drain dispatch help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
