complete -c serve -l state -d 'State file (SQLite); give it before the subcommand. Its key file sits beside it (.key)' -r -F
complete -c serve -l state-file -d 'State file, accepted anywhere on the line (list commands use --state as a filter)' -r -F
complete -c serve -l server -d 'Talk to a moat serve at URL instead of the local state file' -r
complete -c serve -l auth-token-file -d 'File holding the api token or JWT used with --server' -r -F
complete -c serve -l format -d 'Output format [default: table on a terminal, json otherwise]' -r -f -a "table\t'Aligned table, for people'
json\t'One JSON value: an object for a record, an array for a list'
ndjson\t'One JSON object per line'"
complete -c serve -l host -d 'Address to bind; anything but loopback needs TLS and authentication' -r
complete -c serve -l port -d 'Port (0 picks a free one)' -r
complete -c serve -l cert-file -r -F
complete -c serve -l key-file -r -F
complete -c serve -l auth-mode -d 'token, jwt, token,jwt or none (loopback only, deprecated)' -r
complete -c serve -l jwt-secret-file -r -F
complete -c serve -l users -d 'user:role pairs, e.g. alice:admin,bob:viewer' -r
complete -c serve -l admins -d 'Principals that get the superuser grant on every start' -r
complete -c serve -l grant-reload -d 'auto: rebuild the snapshot after every change; manual: wait for `reload`' -r
complete -c serve -l secrets-file -d 'JSON object of secret name to value (0600)' -r -F
complete -c serve -s q -l quiet -d 'Print less: only essential output (e.g. just the raw token for `token create`)'
complete -c serve -s v -l verbose -d 'Print more about what is happening, on stderr'
complete -c serve -l no-color -d 'No colour (also when NO_COLOR is set)'
complete -c serve -l check-config -d 'Validate flags and files, then exit'
complete -c serve -s h -l help -d 'Print help (see more with \'--help\')'
complete -c serve -s V -l version -d 'Print version'
