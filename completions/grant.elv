
use builtin;
use str;

set edit:completion:arg-completer[grant] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'grant'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'grant'= {
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
            cand add 'Stage an allow (or, with --deny, a deny) grant'
            cand list 'List grants (built-in role grants first)'
            cand revoke 'Revoke grants, all or nothing (ids, or - for stdin)'
            cand check 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)'
            cand group 'Manage group membership (groups are flat sets of principals)'
            cand apply 'Make a file''s grants the full set of source file:<name> (all or nothing)'
            cand export 'Print the active grants as a file `apply` accepts'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'grant;add'= {
            cand --subject 'user:<id>, group:<name> or worker:<id>'
            cand --action 'read, run, write, admin (repeat or comma-separate for several)'
            cand --resource '<kind>:<pattern>: an exact name, a prefix ending in *, or *; the kind may be *'
            cand --note 'A note for people'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --deny 'Make this a deny grant (deny always wins, even over superusers)'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'grant;list'= {
            cand --subject 'Only grants to this subject'
            cand --resource 'Only grants with exactly this resource pattern'
            cand --source 'Only grants from this source: cli, file:<name>, admins, builtin'
            cand --state 'Only active or only revoked grants'
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
        &'grant;revoke'= {
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
        &'grant;check'= {
            cand --principal 'user:<id> or worker:<id>'
            cand --action 'read, run, write or admin'
            cand --resource '<kind>:<name>, e.g. worker:build-1'
            cand --batch 'Read NDJSON requests {"principal","action","resource"} from FILE or - and print one decision per line'
            cand --state-file 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)'
            cand --state-key-file 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]'
            cand --server 'Talk to a moat serve at URL instead of the local state file'
            cand --auth-token-file 'File holding the api token or JWT used with --server'
            cand --signing-key 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent'
            cand --ca-file 'CA certificate (PEM) that signed serve''s certificate, for --server'
            cand --format 'Output format [default: table on a terminal, json otherwise]'
            cand --explain 'Also list near misses: this principal''s grants that failed only on action or only on resource'
            cand --staged 'Evaluate the staged grants instead of the active snapshot'
            cand -q 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand --quiet 'Print less: only essential output (e.g. just the raw token for `token create`)'
            cand -v 'Print more about what is happening, on stderr'
            cand --verbose 'Print more about what is happening, on stderr'
            cand --no-color 'No colour (also when NO_COLOR is set)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'grant;group'= {
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
            cand add 'Add principals to a group'
            cand remove 'Remove principals from a group (all or nothing)'
            cand list 'List groups and their members'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'grant;group;add'= {
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
        &'grant;group;remove'= {
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
        &'grant;group;list'= {
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
        &'grant;group;help'= {
            cand add 'Add principals to a group'
            cand remove 'Remove principals from a group (all or nothing)'
            cand list 'List groups and their members'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'grant;group;help;add'= {
        }
        &'grant;group;help;remove'= {
        }
        &'grant;group;help;list'= {
        }
        &'grant;group;help;help'= {
        }
        &'grant;apply'= {
            cand --name 'Source name [default: the file name without extension, or stdin]'
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
        &'grant;export'= {
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
        &'grant;help'= {
            cand add 'Stage an allow (or, with --deny, a deny) grant'
            cand list 'List grants (built-in role grants first)'
            cand revoke 'Revoke grants, all or nothing (ids, or - for stdin)'
            cand check 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)'
            cand group 'Manage group membership (groups are flat sets of principals)'
            cand apply 'Make a file''s grants the full set of source file:<name> (all or nothing)'
            cand export 'Print the active grants as a file `apply` accepts'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'grant;help;add'= {
        }
        &'grant;help;list'= {
        }
        &'grant;help;revoke'= {
        }
        &'grant;help;check'= {
        }
        &'grant;help;group'= {
            cand add 'Add principals to a group'
            cand remove 'Remove principals from a group (all or nothing)'
            cand list 'List groups and their members'
        }
        &'grant;help;group;add'= {
        }
        &'grant;help;group;remove'= {
        }
        &'grant;help;group;list'= {
        }
        &'grant;help;apply'= {
        }
        &'grant;help;export'= {
        }
        &'grant;help;help'= {
        }
    ]
    $completions[$command]
}
