
use builtin;
use str;

set edit:completion:arg-completer[audit] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'audit'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'audit'= {
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
            cand log 'Print events, oldest first'
            cand verify 'Check every link of the chain (exit 0 intact, 1 broken)'
            cand checkpoint 'Print the chain head {seq, hash} to keep somewhere else'
            cand check 'Lint the state for security problems; exit 1 when a finding reaches --fail-on'
            cand prune 'Drop events before a time, keeping the chain verifiable through a sealed anchor'
            cand export 'Export events as NDJSON in a SIEM schema (one event per line)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'audit;log'= {
            cand --since 'Only events at or after this time (duration ago like 4h, or RFC 3339)'
            cand --until 'Only events at or before this time (duration ago, or RFC 3339)'
            cand --type 'Only events of this type, e.g. token_created, grant_added, enrolment_refused'
            cand --actor 'Only events by this actor, e.g. local:alice'
            cand --target 'Only events about this target, e.g. tok_0a1b2c3d4e5f'
            cand --outcome 'Only events with this outcome: success, failure or denied'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --follow 'Keep printing new events as they are committed, like tail -f (JSON becomes NDJSON)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'audit;verify'= {
            cand --checkpoint 'A checkpoint saved by `audit checkpoint`: also detects truncation and rewrites'
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
        &'audit;checkpoint'= {
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
        &'audit;check'= {
            cand --fail-on 'Lowest severity that makes the exit status 1'
            cand --stale 'Bound tokens not used, and workers not seen, for this long are reported'
            cand --spike 'Failed authentications in the last hour that count as a spike'
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
        &'audit;prune'= {
            cand --before 'Cut-off: a duration ago (90d) or an RFC 3339 time'
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
        &'audit;export'= {
            cand --schema 'schema'
            cand --since 'Only events at or after this time'
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
        &'audit;help'= {
            cand log 'Print events, oldest first'
            cand verify 'Check every link of the chain (exit 0 intact, 1 broken)'
            cand checkpoint 'Print the chain head {seq, hash} to keep somewhere else'
            cand check 'Lint the state for security problems; exit 1 when a finding reaches --fail-on'
            cand prune 'Drop events before a time, keeping the chain verifiable through a sealed anchor'
            cand export 'Export events as NDJSON in a SIEM schema (one event per line)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'audit;help;log'= {
        }
        &'audit;help;verify'= {
        }
        &'audit;help;checkpoint'= {
        }
        &'audit;help;check'= {
        }
        &'audit;help;prune'= {
        }
        &'audit;help;export'= {
        }
        &'audit;help;help'= {
        }
    ]
    $completions[$command]
}
