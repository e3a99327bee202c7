
use builtin;
use str;

set edit:completion:arg-completer[serve] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'serve'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'serve'= {
            cand --state 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file''s key file sits beside it (.key)'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --host 'Address to bind; anything but loopback needs TLS and authentication'
            cand --port 'Port (0 picks a free one; the chosen address is printed on stdout)'
            cand --cert-file 'TLS certificate chain (PEM)'
            cand --key-file 'TLS private key (PEM, mode 0600)'
            cand --auth-mode 'token (api tokens), jwt (HS256), token,jwt, or none (loopback only, deprecated)'
            cand --jwt-secret-file 'File holding the HS256 secret (≥ 32 bytes, mode 0600); or set MOAT_JWT_SECRET'
            cand --users 'Authoritative user:role list for JWTs, e.g. alice:admin,bob:viewer'
            cand --admins 'Principals given the superuser grant on every start (others lose it), e.g. user:alice'
            cand --grant-reload 'auto: compile a new snapshot after every API change; manual: wait for `reload`'
            cand --secrets-file 'JSON object of secret name to value (mode 0600), for dispatches'
            cand --rotate-every 'Rotate each worker''s session credential this often (it lives twice as long)'
            cand --heartbeat-every 'How often workers send a sign of life; one silent for 5 of them is dropped'
            cand --max-workers 'Live worker connections accepted at once (needs as many open files)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand --audit-rotations 'Audit every routine credential rotation (by default worker_disconnected counts them)'
            cand --check-config 'Validate flags and files, print the effective configuration, and exit'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand copy-state 'Copy the state (tokens, bindings, workers, grants, groups, snapshots, the audit chain) into an empty PostgreSQL database, then verify the chain there'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'serve;copy-state'= {
            cand --to 'The empty destination database, postgres://USER@HOST/DB'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'serve;help'= {
            cand copy-state 'Copy the state (tokens, bindings, workers, grants, groups, snapshots, the audit chain) into an empty PostgreSQL database, then verify the chain there'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'serve;help;copy-state'= {
        }
        &'serve;help;help'= {
        }
    ]
    $completions[$command]
}
