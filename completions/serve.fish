complete -c serve -l state -d 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file\'s key file sits beside it (.key)' -r -F
complete -c serve -l state-file -d 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c serve -l state-key-file -d 'Key file holding the state\'s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]' -r -F
complete -c serve -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c serve -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c serve -l ca-file -d 'CA certificate (PEM) that signed serve\'s certificate, for --server' -r -F
complete -c serve -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c serve -l host -d 'Address to bind; anything but loopback needs TLS and authentication' -r
complete -c serve -l port -d 'Port (0 picks a free one; the chosen address is printed on stdout)' -r
complete -c serve -l cert-file -d 'TLS certificate chain (PEM)' -r -F
complete -c serve -l key-file -d 'TLS private key (PEM, mode 0600)' -r -F
complete -c serve -l auth-mode -d 'token (api tokens), jwt (HS256), token,jwt, or none (loopback only, deprecated)' -r
complete -c serve -l jwt-secret-file -d 'File holding the HS256 secret (≥ 32 bytes, mode 0600); or set MOAT_JWT_SECRET' -r -F
complete -c serve -l users -d 'Authoritative user:role list for JWTs, e.g. alice:admin,bob:viewer' -r
complete -c serve -l admins -d 'Principals given the superuser grant on every start (others lose it), e.g. user:alice' -r
complete -c serve -l grant-reload -d 'auto: compile a new snapshot after every API change; manual: wait for `reload`' -r
complete -c serve -l secrets-file -d 'JSON object of secret name to value (mode 0600), for dispatches' -r -F
complete -c serve -l rotate-every -d 'Rotate each worker\'s session credential this often (it lives twice as long)' -r
complete -c serve -l heartbeat-every -d 'How often workers send a sign of life; one silent for 5 of them is dropped' -r
complete -c serve -l max-workers -d 'Live worker connections accepted at once (needs as many open files)' -r
complete -c serve -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c serve -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c serve -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c serve -l audit-rotations -d 'Audit every routine credential rotation (by default worker_disconnected counts them)'
complete -c serve -l check-config -d 'Validate flags and files, print the effective configuration, and exit'
complete -c serve -s h -l help -d 'Print help (see more with \'--help\')'
complete -c serve -s V -l version -d 'Print version'
