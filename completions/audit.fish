# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_audit_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color h/help V/version
end

function __fish_audit_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_audit_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_audit_using_subcommand
    set -l cmd (__fish_audit_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c audit -n "__fish_audit_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c audit -n "__fish_audit_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_needs_command" -s V -l version -d 'Print version'
complete -c audit -n "__fish_audit_needs_command" -f -a "log" -d 'Print events, oldest first'
complete -c audit -n "__fish_audit_needs_command" -f -a "verify" -d 'Check every link of the chain (exit 0 intact, 1 broken)'
complete -c audit -n "__fish_audit_needs_command" -f -a "checkpoint" -d 'Print the chain head {seq, hash} to keep somewhere else'
complete -c audit -n "__fish_audit_needs_command" -f -a "check" -d 'Lint the state for security problems; exit 1 when a finding reaches --fail-on'
complete -c audit -n "__fish_audit_needs_command" -f -a "prune" -d 'Drop events before a time, keeping the chain verifiable through a sealed anchor'
complete -c audit -n "__fish_audit_needs_command" -f -a "export" -d 'Export events as NDJSON in a SIEM schema (one event per line)'
complete -c audit -n "__fish_audit_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c audit -n "__fish_audit_using_subcommand log" -l since -d 'Only events at or after this time (duration ago like 4h, or RFC 3339)' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l until -d 'Only events at or before this time (duration ago, or RFC 3339)' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l type -d 'Only events of this type, e.g. token_created, grant_added, enrolment_refused' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l actor -d 'Only events by this actor, e.g. local:alice' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l target -d 'Only events about this target, e.g. tok_0a1b2c3d4e5f' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l outcome -d 'Only events with this outcome: success, failure or denied' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand log" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand log" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand log" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand log" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand log" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand log" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand log" -l follow -d 'Keep printing new events as they are committed, like tail -f (JSON becomes NDJSON)'
complete -c audit -n "__fish_audit_using_subcommand log" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand log" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand log" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand verify" -l checkpoint -d 'A checkpoint saved by `audit checkpoint`: also detects truncation and rewrites' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand verify" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand verify" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand verify" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand verify" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand verify" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand checkpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand check" -l fail-on -d 'Lowest severity that makes the exit status 1' -r -f -a "low\t''
medium\t''
high\t''"
complete -c audit -n "__fish_audit_using_subcommand check" -l stale -d 'Bound tokens not used, and workers not seen, for this long are reported' -r
complete -c audit -n "__fish_audit_using_subcommand check" -l spike -d 'Failed authentications in the last hour that count as a spike' -r
complete -c audit -n "__fish_audit_using_subcommand check" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand check" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand check" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand check" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand check" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand check" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand check" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand check" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand check" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand check" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand prune" -l before -d 'Cut-off: a duration ago (90d) or an RFC 3339 time' -r
complete -c audit -n "__fish_audit_using_subcommand prune" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand prune" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand prune" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand prune" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand prune" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand prune" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand prune" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand prune" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand prune" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand prune" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand export" -l schema -r -f -a "moat\t'The event as `audit log` prints it'
ocsf\t'OCSF 1.1 API Activity (class_uid 6003)'
cef\t'ArcSight Common Event Format'"
complete -c audit -n "__fish_audit_using_subcommand export" -l since -d 'Only events at or after this time' -r
complete -c audit -n "__fish_audit_using_subcommand export" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c audit -n "__fish_audit_using_subcommand export" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c audit -n "__fish_audit_using_subcommand export" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c audit -n "__fish_audit_using_subcommand export" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand export" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c audit -n "__fish_audit_using_subcommand export" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c audit -n "__fish_audit_using_subcommand export" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c audit -n "__fish_audit_using_subcommand export" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c audit -n "__fish_audit_using_subcommand export" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c audit -n "__fish_audit_using_subcommand export" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c audit -n "__fish_audit_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "log" -d 'Print events, oldest first'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "verify" -d 'Check every link of the chain (exit 0 intact, 1 broken)'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "checkpoint" -d 'Print the chain head {seq, hash} to keep somewhere else'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "check" -d 'Lint the state for security problems; exit 1 when a finding reaches --fail-on'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "prune" -d 'Drop events before a time, keeping the chain verifiable through a sealed anchor'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "export" -d 'Export events as NDJSON in a SIEM schema (one event per line)'
complete -c audit -n "__fish_audit_using_subcommand help; and not __fish_seen_subcommand_from log verify checkpoint check prune export help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
