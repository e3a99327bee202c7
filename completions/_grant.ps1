
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'grant' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'grant'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'grant' {
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'State file (SQLite), or a postgres:// URL; give it before the subcommand. An SQLite file''s key file sits beside it (.key)')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Stage an allow (or, with --deny, a deny) grant')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List grants (built-in role grants first)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke grants, all or nothing (ids, or - for stdin)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)')
            [CompletionResult]::new('group', 'group', [CompletionResultType]::ParameterValue, 'Manage group membership (groups are flat sets of principals)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Make a file''s grants the full set of source file:<name> (all or nothing)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print the active grants as a file `apply` accepts')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'grant;add' {
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'user:<id>, group:<name> or worker:<id>')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'read, run, write, admin (repeat or comma-separate for several)')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, '<kind>:<pattern>: an exact name, a prefix ending in *, or *; the kind may be *')
            [CompletionResult]::new('--note', '--note', [CompletionResultType]::ParameterName, 'A note for people')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'Make this a deny grant (deny always wins, even over superusers)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;list' {
            [CompletionResult]::new('--subject', '--subject', [CompletionResultType]::ParameterName, 'Only grants to this subject')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, 'Only grants with exactly this resource pattern')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Only grants from this source: cli, file:<name>, admins, builtin')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Only active or only revoked grants')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;revoke' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;check' {
            [CompletionResult]::new('--principal', '--principal', [CompletionResultType]::ParameterName, 'user:<id> or worker:<id>')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'read, run, write or admin')
            [CompletionResult]::new('--resource', '--resource', [CompletionResultType]::ParameterName, '<kind>:<name>, e.g. worker:build-1')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Read NDJSON requests {"principal","action","resource"} from FILE or - and print one decision per line')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Also list near misses: this principal''s grants that failed only on action or only on resource')
            [CompletionResult]::new('--staged', '--staged', [CompletionResultType]::ParameterName, 'Evaluate the staged grants instead of the active snapshot')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;group' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add principals to a group')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove principals from a group (all or nothing)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups and their members')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'grant;group;add' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;group;remove' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;group;list' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;group;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add principals to a group')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove principals from a group (all or nothing)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups and their members')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'grant;group;help;add' {
            break
        }
        'grant;group;help;remove' {
            break
        }
        'grant;group;help;list' {
            break
        }
        'grant;group;help;help' {
            break
        }
        'grant;apply' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Source name [default: the file name without extension, or stdin]')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;export' {
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'grant;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Stage an allow (or, with --deny, a deny) grant')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List grants (built-in role grants first)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke grants, all or nothing (ids, or - for stdin)')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Decide whether a principal may perform an action (exit 0 allow, 1 deny)')
            [CompletionResult]::new('group', 'group', [CompletionResultType]::ParameterValue, 'Manage group membership (groups are flat sets of principals)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Make a file''s grants the full set of source file:<name> (all or nothing)')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Print the active grants as a file `apply` accepts')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'grant;help;add' {
            break
        }
        'grant;help;list' {
            break
        }
        'grant;help;revoke' {
            break
        }
        'grant;help;check' {
            break
        }
        'grant;help;group' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add principals to a group')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove principals from a group (all or nothing)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List groups and their members')
            break
        }
        'grant;help;group;add' {
            break
        }
        'grant;help;group;remove' {
            break
        }
        'grant;help;group;list' {
            break
        }
        'grant;help;apply' {
            break
        }
        'grant;help;export' {
            break
        }
        'grant;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
