# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_token_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color h/help V/version
end

function __fish_token_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_token_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_token_using_subcommand
    set -l cmd (__fish_token_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c token -n "__fish_token_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c token -n "__fish_token_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_needs_command" -s V -l version -d 'Print version'
complete -c token -n "__fish_token_needs_command" -f -a "create" -d 'Create a token and print it (the only time the raw token is shown)'
complete -c token -n "__fish_token_needs_command" -f -a "list" -d 'List tokens with their computed state'
complete -c token -n "__fish_token_needs_command" -f -a "show" -d 'Show one token'
complete -c token -n "__fish_token_needs_command" -f -a "revoke" -d 'Revoke tokens (all or nothing); workers enrolled with them lose access'
complete -c token -n "__fish_token_needs_command" -f -a "prune" -d 'Delete expired and revoked token records (their audit history stays)'
complete -c token -n "__fish_token_needs_command" -f -a "verify" -d 'Read a raw token on stdin and report which record it is and its state, without using it'
complete -c token -n "__fish_token_needs_command" -f -a "keygen" -d 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub'
complete -c token -n "__fish_token_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c token -n "__fish_token_using_subcommand create" -l kind -d 'enrol: lets one machine join; api: authenticates a principal to serve; key: registers a principal\'s public key' -r -f -a "enrol\t''
api\t''
key\t''"
complete -c token -n "__fish_token_using_subcommand create" -l ttl -d 'Lifetime, e.g. 30m, 2h, 7d [default: 1h for enrol (max 24h), 30d for api (max 365d)]' -r
complete -c token -n "__fish_token_using_subcommand create" -l max-uses -d 'How many machines may enrol with it: a number or `unlimited` [default: 1]' -r
complete -c token -n "__fish_token_using_subcommand create" -l label -d 'A note for people, shown in lists' -r
complete -c token -n "__fish_token_using_subcommand create" -l principal -d 'The principal an api token or key authenticates, e.g. user:alice' -r
complete -c token -n "__fish_token_using_subcommand create" -l scope -d 'Narrow an api token or key to ACTION:KIND:PATTERN (repeatable), e.g. run:worker:build-*' -r
complete -c token -n "__fish_token_using_subcommand create" -l public-key -d 'A key\'s OpenSSH Ed25519 public key file (from `token keygen` or `ssh-keygen -t ed25519`)' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand create" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand create" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand create" -l allow-long-ttl -d 'Allow an enrol token to live longer than 24h (up to 365d)'
complete -c token -n "__fish_token_using_subcommand create" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand create" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand create" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand list" -l kind -d 'Only tokens of this kind' -r -f -a "enrol\t''
api\t''
key\t''"
complete -c token -n "__fish_token_using_subcommand list" -l state -d 'Only tokens in this state' -r -f -a "pending\t'Unused and valid'
bound\t'Used by some machines (or, for api tokens, used at least once) and still valid'
exhausted\t'Every use is bound; no new machine may enrol'
expired\t'Past its expiry'
revoked\t'Revoked'"
complete -c token -n "__fish_token_using_subcommand list" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand list" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand list" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand list" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand list" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand list" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand list" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand list" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand list" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand list" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand show" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand show" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand show" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand show" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand show" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand show" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand show" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand show" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand show" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand show" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand revoke" -l reason -d 'Why, kept in the record and the audit trail' -r
complete -c token -n "__fish_token_using_subcommand revoke" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand revoke" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand revoke" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand revoke" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand revoke" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand revoke" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand revoke" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand revoke" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand revoke" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand revoke" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand prune" -l older-than -d 'Only records that expired or were revoked at least this long ago' -r
complete -c token -n "__fish_token_using_subcommand prune" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand prune" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand prune" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand prune" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand prune" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand prune" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand prune" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand prune" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand prune" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand prune" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand verify" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand verify" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand verify" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand verify" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand verify" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand verify" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand verify" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand verify" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand verify" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand verify" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand keygen" -l out -d 'Where to write the private key (FILE.pub gets the public key); never overwritten' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l comment -d 'A comment in the public key, e.g. alice@laptop' -r
complete -c token -n "__fish_token_using_subcommand keygen" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c token -n "__fish_token_using_subcommand keygen" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c token -n "__fish_token_using_subcommand keygen" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c token -n "__fish_token_using_subcommand keygen" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c token -n "__fish_token_using_subcommand keygen" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c token -n "__fish_token_using_subcommand keygen" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c token -n "__fish_token_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "create" -d 'Create a token and print it (the only time the raw token is shown)'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "list" -d 'List tokens with their computed state'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "show" -d 'Show one token'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "revoke" -d 'Revoke tokens (all or nothing); workers enrolled with them lose access'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "prune" -d 'Delete expired and revoked token records (their audit history stays)'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "verify" -d 'Read a raw token on stdin and report which record it is and its state, without using it'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "keygen" -d 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub'
complete -c token -n "__fish_token_using_subcommand help; and not __fish_seen_subcommand_from create list show revoke prune verify keygen help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
