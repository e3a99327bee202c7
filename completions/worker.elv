
use builtin;
use str;

set edit:completion:arg-completer[worker] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'worker'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'worker'= {
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
            cand connect 'Enrol (or resume) and run dispatched steps until stopped'
            cand list 'List workers (revoked ones with --all)'
            cand show 'Show one worker'
            cand revoke 'Revoke workers and disconnect them now (ids, or - for stdin)'
            cand drain 'Stop sending new steps to a worker (audited; a running serve tells its live session)'
            cand dispatch 'Run a step on a worker and print its result; the exit code mirrors the step''s (needs --server)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'worker;connect'= {
            cand --token 'Enrol token (mte_...); prefer --token-file, which keeps it out of `ps`'
            cand --token-file 'File holding the enrol token'
            cand --cache-dir 'Directory for the machine id and session credential (0700)'
            cand --label 'k=v label (repeatable); name=... names the worker'
            cand --capacity 'Steps run at once (1 or more)'
            cand --allow-command 'Only run commands whose argv[0] matches (exact or prefix*; repeatable)'
            cand --pin-sha256 'Also require the server''s public key to have this SHA-256 (base64 of the SPKI)'
            cand --run-as 'Run steps as this user (name, uid or uid:gid); needs a root worker'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --allow-root 'Let steps run as root (refused by default, like GitHub''s runner)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'worker;list'= {
            cand --stale 'Only workers not seen for this long'
            cand --label 'Only workers with this label, e.g. pool=build'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --all 'Revoked workers too'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'worker;show'= {
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
        &'worker;revoke'= {
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
        &'worker;drain'= {
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
        &'worker;dispatch'= {
            cand --to 'Worker name'
            cand --select 'Any connected worker with this label, as key=value (e.g. pool=build)'
            cand --secret 'Secret from serve''s --secrets-file to pass as an environment variable (repeatable)'
            cand --timeout 'Kill the step after this long'
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
        &'worker;help'= {
            cand connect 'Enrol (or resume) and run dispatched steps until stopped'
            cand list 'List workers (revoked ones with --all)'
            cand show 'Show one worker'
            cand revoke 'Revoke workers and disconnect them now (ids, or - for stdin)'
            cand drain 'Stop sending new steps to a worker (audited; a running serve tells its live session)'
            cand dispatch 'Run a step on a worker and print its result; the exit code mirrors the step''s (needs --server)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'worker;help;connect'= {
        }
        &'worker;help;list'= {
        }
        &'worker;help;show'= {
        }
        &'worker;help;revoke'= {
        }
        &'worker;help;drain'= {
        }
        &'worker;help;dispatch'= {
        }
        &'worker;help;help'= {
        }
    ]
    $completions[$command]
}
