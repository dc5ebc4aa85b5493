
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'cm' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'cm'
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
        'cm' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'List the tokens in a text without fetching anything (a dry run)')
            [CompletionResult]::new('insert', 'insert', [CompletionResultType]::ParameterValue, 'Replace every token in a template with its value (stdin to stdout by default)')
            [CompletionResult]::new('string-input', 'string-input', [CompletionResultType]::ParameterValue, 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)')
            [CompletionResult]::new('fromstr', 'fromstr', [CompletionResultType]::ParameterValue, 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)')
            [CompletionResult]::new('getfromstr', 'getfromstr', [CompletionResultType]::ParameterValue, 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)')
            [CompletionResult]::new('retrieve', 'retrieve', [CompletionResultType]::ParameterValue, 'Fetch tokens and write them as `export NAME=''value''` lines (or dotenv, JSON, YAML, ...)')
            [CompletionResult]::new('r', 'r', [CompletionResultType]::ParameterValue, 'Fetch tokens and write them as `export NAME=''value''` lines (or dotenv, JSON, YAML, ...)')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Fetch tokens and write them as `export NAME=''value''` lines (or dotenv, JSON, YAML, ...)')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Fetch tokens and write them as `export NAME=''value''` lines (or dotenv, JSON, YAML, ...)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run a command with the tokens in its environment resolved (`-- CMD [ARGS...]`)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('plugin', 'plugin', [CompletionResultType]::ParameterValue, 'Install and list provider plugins, with their SHA-256 recorded in plugins.lock')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the plugin folders and report which plugins are missing (downloads nothing)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cm;scan' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'The file to scan; `-` for stdin')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'The file to scan; `-` for stdin')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;insert' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'The template; `-` for stdin')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'The template; `-` for stdin')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write the result; `-` or `stdout` for stdout. May be the input file')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write the result; `-` or `stdout` for stdout. May be the input file')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;string-input' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;fromstr' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;getfromstr' {
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'A file path, `-` for stdin, or else the text itself')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write the result; `stdout` or `-` for stdout. May be the input file')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;retrieve' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The Secret''s name (k8s-secret only, required there): a DNS subdomain name')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The Secret''s namespace (k8s-secret only): a DNS label')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;r' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The Secret''s name (k8s-secret only, required there): a DNS subdomain name')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The Secret''s namespace (k8s-secret only): a DNS label')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;fetch' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The Secret''s name (k8s-secret only, required there): a DNS subdomain name')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The Secret''s namespace (k8s-secret only): a DNS label')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;get' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'A token to fetch; repeat for more. Lines come out in this order')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The Secret''s name (k8s-secret only, required there): a DNS subdomain name')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The Secret''s namespace (k8s-secret only): a DNS label')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;exec' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'A dotenv file of variables for the command, whose values may hold tokens; repeat for more (later files win). The syntax `retrieve --format dotenv` writes, python-dotenv''s')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'A variable for the command, NAME=VALUE, whose value may hold tokens; repeat for more. Wins over cm''s environment and --env-file')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('--pristine', '--pristine', [CompletionResultType]::ParameterName, 'Give the command only PATH and the variables that held tokens or were set by --env-file and --env, not the rest of cm''s environment')
            [CompletionResult]::new('--no-masking', '--no-masking', [CompletionResultType]::ParameterName, 'Do not mask the output: cm replaces itself with the command (execve), so signals and the exit status are the command''s own and no cm process remains')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;completion' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;plugin' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Copy a plugin binary into place and record its SHA-256 in the lock file')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every plugin found, where, its SHA-256, and whether it matches the lock file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cm;plugin;install' {
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The plugin binary, or WASI module (`.wasm`), to install')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'WASI modules only: a host the module may send HTTP(S) requests to (`vault.example` allows the scheme''s default port, `vault.example:8200` that port, `[::1]:8200` an IPv6 address); repeat for more')
            [CompletionResult]::new('--allow-env', '--allow-env', [CompletionResultType]::ParameterName, 'WASI modules only: an environment variable the module may read (with cm''s value at run time); repeat for more')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('--global', '--global', [CompletionResultType]::ParameterName, 'Install under the home directory instead of $CONFIGMANAGER_DIR or the current directory')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;plugin;list' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;plugin;help' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Copy a plugin binary into place and record its SHA-256 in the lock file')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every plugin found, where, its SHA-256, and whether it matches the lock file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cm;plugin;help;install' {
            break
        }
        'cm;plugin;help;list' {
            break
        }
        'cm;plugin;help;help' {
            break
        }
        'cm;init' {
            [CompletionResult]::new('--plugin', '--plugin', [CompletionResultType]::ParameterName, 'A plugin prefix to prepare; repeat, or separate with commas')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('--token-separator', '--token-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s prefix and its path')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--key-separator', '--key-separator', [CompletionResultType]::ParameterName, 'Separator between a token''s path and its key path (one character)')
            [CompletionResult]::new('--plugin-start-timeout', '--plugin-start-timeout', [CompletionResultType]::ParameterName, 'Seconds a plugin may take to start and print its handshake')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds one value fetch may take')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Fetches in flight at once per plugin')
            [CompletionResult]::new('--global', '--global', [CompletionResultType]::ParameterName, 'Prepare the home directory instead of $CONFIGMANAGER_DIR or the current directory')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('--enable-envsubst', '--enable-envsubst', [CompletionResultType]::ParameterName, 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged')
            [CompletionResult]::new('--lax', '--lax', [CompletionResultType]::ParameterName, 'Keep going when a token cannot be resolved: leave it as it was and warn')
            [CompletionResult]::new('--require-lock', '--require-lock', [CompletionResultType]::ParameterName, 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock')
            [CompletionResult]::new('--plugin-mtls', '--plugin-mtls', [CompletionResultType]::ParameterName, 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cm;help' {
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'List the tokens in a text without fetching anything (a dry run)')
            [CompletionResult]::new('insert', 'insert', [CompletionResultType]::ParameterValue, 'Replace every token in a template with its value (stdin to stdout by default)')
            [CompletionResult]::new('string-input', 'string-input', [CompletionResultType]::ParameterValue, 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)')
            [CompletionResult]::new('retrieve', 'retrieve', [CompletionResultType]::ParameterValue, 'Fetch tokens and write them as `export NAME=''value''` lines (or dotenv, JSON, YAML, ...)')
            [CompletionResult]::new('exec', 'exec', [CompletionResultType]::ParameterValue, 'Run a command with the tokens in its environment resolved (`-- CMD [ARGS...]`)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('plugin', 'plugin', [CompletionResultType]::ParameterValue, 'Install and list provider plugins, with their SHA-256 recorded in plugins.lock')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create the plugin folders and report which plugins are missing (downloads nothing)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cm;help;scan' {
            break
        }
        'cm;help;insert' {
            break
        }
        'cm;help;string-input' {
            break
        }
        'cm;help;retrieve' {
            break
        }
        'cm;help;exec' {
            break
        }
        'cm;help;completion' {
            break
        }
        'cm;help;plugin' {
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Copy a plugin binary into place and record its SHA-256 in the lock file')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List every plugin found, where, its SHA-256, and whether it matches the lock file')
            break
        }
        'cm;help;plugin;install' {
            break
        }
        'cm;help;plugin;list' {
            break
        }
        'cm;help;init' {
            break
        }
        'cm;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
