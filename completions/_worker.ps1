
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'worker' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'worker'
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
        'worker' {
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
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Enrol (or resume) and run dispatched steps until stopped')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List workers (revoked ones with --all)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one worker')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke workers and disconnect them now (ids, or - for stdin)')
            [CompletionResult]::new('drain', 'drain', [CompletionResultType]::ParameterValue, 'Stop sending new steps to a worker (audited; a running serve tells its live session)')
            [CompletionResult]::new('dispatch', 'dispatch', [CompletionResultType]::ParameterValue, 'Run a step on a worker and print its result; the exit code mirrors the step''s (needs --server)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'worker;connect' {
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Enrol token (mte_...); prefer --token-file, which keeps it out of `ps`')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'File holding the enrol token')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Directory for the machine id and session credential (0700)')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'k=v label (repeatable); name=... names the worker')
            [CompletionResult]::new('--capacity', '--capacity', [CompletionResultType]::ParameterName, 'Steps run at once (1 or more)')
            [CompletionResult]::new('--allow-command', '--allow-command', [CompletionResultType]::ParameterName, 'Only run commands whose argv[0] matches (exact or prefix*; repeatable)')
            [CompletionResult]::new('--pin-sha256', '--pin-sha256', [CompletionResultType]::ParameterName, 'Also require the server''s public key to have this SHA-256 (base64 of the SPKI)')
            [CompletionResult]::new('--run-as', '--run-as', [CompletionResultType]::ParameterName, 'Run steps as this user (name, uid or uid:gid); needs a root worker')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('--allow-root', '--allow-root', [CompletionResultType]::ParameterName, 'Let steps run as root (refused by default, like GitHub''s runner)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'worker;list' {
            [CompletionResult]::new('--stale', '--stale', [CompletionResultType]::ParameterName, 'Only workers not seen for this long')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'Only workers with this label, e.g. pool=build')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Revoked workers too')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'worker;show' {
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
        'worker;revoke' {
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
        'worker;drain' {
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
        'worker;dispatch' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Worker name')
            [CompletionResult]::new('--select', '--select', [CompletionResultType]::ParameterName, 'Any connected worker with this label, as key=value (e.g. pool=build)')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Secret from serve''s --secrets-file to pass as an environment variable (repeatable)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Kill the step after this long')
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
        'worker;help' {
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Enrol (or resume) and run dispatched steps until stopped')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List workers (revoked ones with --all)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one worker')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke workers and disconnect them now (ids, or - for stdin)')
            [CompletionResult]::new('drain', 'drain', [CompletionResultType]::ParameterValue, 'Stop sending new steps to a worker (audited; a running serve tells its live session)')
            [CompletionResult]::new('dispatch', 'dispatch', [CompletionResultType]::ParameterValue, 'Run a step on a worker and print its result; the exit code mirrors the step''s (needs --server)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'worker;help;connect' {
            break
        }
        'worker;help;list' {
            break
        }
        'worker;help;show' {
            break
        }
        'worker;help;revoke' {
            break
        }
        'worker;help;drain' {
            break
        }
        'worker;help;dispatch' {
            break
        }
        'worker;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
