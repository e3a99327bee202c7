
use builtin;
use str;

set edit:completion:arg-completer[token] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'token'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'token'= {
            cand --state 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file''s key file sits beside it (.key)'
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
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a token and print it (the only time the raw token is shown)'
            cand list 'List tokens with their computed state'
            cand show 'Show one token'
            cand revoke 'Revoke tokens (all or nothing); workers enrolled with them lose access'
            cand prune 'Delete expired and revoked token records (their audit history stays)'
            cand verify 'Read a raw token on stdin and report which record it is and its state, without using it'
            cand keygen 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'token;create'= {
            cand --kind 'enrol: lets one machine join; api: authenticates a principal to serve; key: registers a principal''s public key'
            cand --ttl 'Lifetime, e.g. 30m, 2h, 7d [default: 1h for enrol (max 24h), 30d for api (max 365d)]'
            cand --max-uses 'How many machines may enrol with it: a number or `unlimited` [default: 1]'
            cand --label 'A note for people, shown in lists'
            cand --principal 'The principal an api token or key authenticates, e.g. user:alice'
            cand --scope 'Narrow an api token or key to ACTION:KIND:PATTERN (repeatable), e.g. run:worker:build-*'
            cand --public-key 'A key''s OpenSSH Ed25519 public key file (from `token keygen` or `ssh-keygen -t ed25519`)'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --allow-long-ttl 'Allow an enrol token to live longer than 24h (up to 365d)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'token;list'= {
            cand --kind 'Only tokens of this kind'
            cand --state 'Only tokens in this state'
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
        &'token;show'= {
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
        &'token;revoke'= {
            cand --reason 'Why, kept in the record and the audit trail'
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
        &'token;prune'= {
            cand --older-than 'Only records that expired or were revoked at least this long ago'
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
        &'token;verify'= {
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
        &'token;keygen'= {
            cand --out 'Where to write the private key (FILE.pub gets the public key); never overwritten'
            cand --comment 'A comment in the public key, e.g. alice@laptop'
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
        &'token;help'= {
            cand create 'Create a token and print it (the only time the raw token is shown)'
            cand list 'List tokens with their computed state'
            cand show 'Show one token'
            cand revoke 'Revoke tokens (all or nothing); workers enrolled with them lose access'
            cand prune 'Delete expired and revoked token records (their audit history stays)'
            cand verify 'Read a raw token on stdin and report which record it is and its state, without using it'
            cand keygen 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'token;help;create'= {
        }
        &'token;help;list'= {
        }
        &'token;help;show'= {
        }
        &'token;help;revoke'= {
        }
        &'token;help;prune'= {
        }
        &'token;help;verify'= {
        }
        &'token;help;keygen'= {
        }
        &'token;help;help'= {
        }
    ]
    $completions[$command]
}
