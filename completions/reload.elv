
use builtin;
use str;

set edit:completion:arg-completer[reload] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'reload'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'reload'= {
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
            cand --dry-run 'Print the diff (grants and memberships added/removed) without applying it (before `prune`, the same as its own --dry-run)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand history 'List snapshots, oldest first'
            cand rollback 'Make an earlier snapshot active again'
            cand prune 'Delete old snapshots, keeping the active one and the newest others'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'reload;history'= {
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
        &'reload;rollback'= {
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
        &'reload;prune'= {
            cand --keep 'How many snapshots to keep besides the active one'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --dry-run 'List what would be deleted without deleting it'
            cand --vacuum 'Then rewrite the state file without its free space, so it shrinks (local state file only; holds the write lock while it runs and needs free disk for a copy of the live data)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'reload;help'= {
            cand history 'List snapshots, oldest first'
            cand rollback 'Make an earlier snapshot active again'
            cand prune 'Delete old snapshots, keeping the active one and the newest others'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'reload;help;history'= {
        }
        &'reload;help;rollback'= {
        }
        &'reload;help;prune'= {
        }
        &'reload;help;help'= {
        }
    ]
    $completions[$command]
}
