
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'token' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'token'
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
        'token' {
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
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a token and print it (the only time the raw token is shown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens with their computed state')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one token')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke tokens (all or nothing); workers enrolled with them lose access')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete expired and revoked token records (their audit history stays)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Read a raw token on stdin and report which record it is and its state, without using it')
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'token;create' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'enrol: lets one machine join; api: authenticates a principal to serve; key: registers a principal''s public key')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime, e.g. 30m, 2h, 7d [default: 1h for enrol (max 24h), 30d for api (max 365d)]')
            [CompletionResult]::new('--max-uses', '--max-uses', [CompletionResultType]::ParameterName, 'How many machines may enrol with it: a number or `unlimited` [default: 1]')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'A note for people, shown in lists')
            [CompletionResult]::new('--principal', '--principal', [CompletionResultType]::ParameterName, 'The principal an api token or key authenticates, e.g. user:alice')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'Narrow an api token or key to ACTION:KIND:PATTERN (repeatable), e.g. run:worker:build-*')
            [CompletionResult]::new('--public-key', '--public-key', [CompletionResultType]::ParameterName, 'A key''s OpenSSH Ed25519 public key file (from `token keygen` or `ssh-keygen -t ed25519`)')
            [CompletionResult]::new('--state-file', '--state-file', [CompletionResultType]::ParameterName, 'State file or postgres:// URL, accepted anywhere on the line (list commands use --state as a filter)')
            [CompletionResult]::new('--state-key-file', '--state-key-file', [CompletionResultType]::ParameterName, 'Key file holding the state''s pepper [default: beside an SQLite state file; required with a postgres:// state, the same file on every replica]')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Talk to a moat serve at URL instead of the local state file')
            [CompletionResult]::new('--auth-token-file', '--auth-token-file', [CompletionResultType]::ParameterName, 'File holding the api token or JWT used with --server')
            [CompletionResult]::new('--signing-key', '--signing-key', [CompletionResultType]::ParameterName, 'Ed25519 private key (OpenSSH format, 0600) that signs every request to --server; no token is sent')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'CA certificate (PEM) that signed serve''s certificate, for --server')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format [default: table on a terminal, json otherwise]')
            [CompletionResult]::new('--allow-long-ttl', '--allow-long-ttl', [CompletionResultType]::ParameterName, 'Allow an enrol token to live longer than 24h (up to 365d)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print less: only essential output (e.g. just the raw token for `token create`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more about what is happening, on stderr')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'token;list' {
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only tokens of this kind')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'Only tokens in this state')
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
        'token;show' {
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
        'token;revoke' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, kept in the record and the audit trail')
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
        'token;prune' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Only records that expired or were revoked at least this long ago')
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
        'token;verify' {
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
        'token;keygen' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Where to write the private key (FILE.pub gets the public key); never overwritten')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'A comment in the public key, e.g. alice@laptop')
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
        'token;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a token and print it (the only time the raw token is shown)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens with their computed state')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one token')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke tokens (all or nothing); workers enrolled with them lose access')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete expired and revoked token records (their audit history stays)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Read a raw token on stdin and report which record it is and its state, without using it')
            [CompletionResult]::new('keygen', 'keygen', [CompletionResultType]::ParameterValue, 'Make an Ed25519 key pair in OpenSSH format: FILE (private, 0600) and FILE.pub')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'token;help;create' {
            break
        }
        'token;help;list' {
            break
        }
        'token;help;show' {
            break
        }
        'token;help;revoke' {
            break
        }
        'token;help;prune' {
            break
        }
        'token;help;verify' {
            break
        }
        'token;help;keygen' {
            break
        }
        'token;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
