# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_serve_global_optspecs
    string join \n state= state-file= state-key-file= server= auth-token-file= signing-key= ca-file= format= q/quiet v/verbose no-color host= port= cert-file= key-file= auth-mode= jwt-secret-file= users= admins= grant-reload= secrets-file= rotate-every= heartbeat-every= audit-rotations max-workers= check-config h/help V/version
end

function __fish_serve_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_serve_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_serve_using_subcommand
    set -l cmd (__fish_serve_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c serve -n "__fish_serve_needs_command" -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c serve -n "__fish_serve_needs_command" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c serve -n "__fish_serve_needs_command" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c serve -n "__fish_serve_needs_command" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c serve -n "__fish_serve_needs_command" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c serve -n "__fish_serve_needs_command" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c serve -n "__fish_serve_needs_command" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c serve -n "__fish_serve_needs_command" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c serve -n "__fish_serve_needs_command" -l host -d 'Address to bind; anything but loopback needs TLS and authentication' -r
complete -c serve -n "__fish_serve_needs_command" -l port -d 'Port (0 picks a free one; the chosen address is printed on stdout)' -r
complete -c serve -n "__fish_serve_needs_command" -l cert-file -d 'TLS certificate chain (PEM)' -r -F
complete -c serve -n "__fish_serve_needs_command" -l key-file -d 'TLS private key (PEM, mode 0600)' -r -F
complete -c serve -n "__fish_serve_needs_command" -l auth-mode -d 'token (api tokens), jwt (HS256), token,jwt, or none (loopback only, deprecated)' -r
complete -c serve -n "__fish_serve_needs_command" -l jwt-secret-file -d 'File holding the HS256 secret (≥ 32 bytes, mode 0600); or set MOAT_JWT_SECRET' -r -F
complete -c serve -n "__fish_serve_needs_command" -l users -d 'Authoritative user:role list for JWTs, e.g. alice:admin,bob:viewer' -r
complete -c serve -n "__fish_serve_needs_command" -l admins -d 'Principals given the superuser grant on every start (others lose it), e.g. user:alice' -r
complete -c serve -n "__fish_serve_needs_command" -l grant-reload -d 'auto: compile a new snapshot after every API change; manual: wait for `reload`' -r
complete -c serve -n "__fish_serve_needs_command" -l secrets-file -d 'JSON object of secret name to value (mode 0600), for dispatches' -r -F
complete -c serve -n "__fish_serve_needs_command" -l rotate-every -d 'Rotate each worker\'s session credential this often (it lives twice as long)' -r
complete -c serve -n "__fish_serve_needs_command" -l heartbeat-every -d 'How often workers send a sign of life; one silent for 5 of them is dropped' -r
complete -c serve -n "__fish_serve_needs_command" -l max-workers -d 'Live worker connections accepted at once (needs as many open files)' -r
complete -c serve -n "__fish_serve_needs_command" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c serve -n "__fish_serve_needs_command" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c serve -n "__fish_serve_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c serve -n "__fish_serve_needs_command" -l audit-rotations -d 'Audit every routine credential rotation (by default worker_disconnected counts them)'
complete -c serve -n "__fish_serve_needs_command" -l check-config -d 'Validate flags and files, print the effective configuration, and exit'
complete -c serve -n "__fish_serve_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c serve -n "__fish_serve_needs_command" -s V -l version -d 'Print version'
complete -c serve -n "__fish_serve_needs_command" -f -a "copy-state" -d 'Copy the state (tokens, bindings, workers, grants, groups, snapshots, the audit chain) into an empty PostgreSQL database, then verify the chain there'
complete -c serve -n "__fish_serve_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l to -d 'The empty destination database, postgres://USER@HOST/DB' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l signing-key -d 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c serve -n "__fish_serve_using_subcommand copy-state" -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c serve -n "__fish_serve_using_subcommand copy-state" -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c serve -n "__fish_serve_using_subcommand copy-state" -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c serve -n "__fish_serve_using_subcommand copy-state" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c serve -n "__fish_serve_using_subcommand help; and not __fish_seen_subcommand_from copy-state help" -f -a "copy-state" -d 'Copy the state (tokens, bindings, workers, grants, groups, snapshots, the audit chain) into an empty PostgreSQL database, then verify the chain there'
complete -c serve -n "__fish_serve_using_subcommand help; and not __fish_seen_subcommand_from copy-state help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
