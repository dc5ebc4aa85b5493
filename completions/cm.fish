# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cm_global_optspecs
    string join \n s/token-separator= k/key-separator= e/enable-envsubst v/verbose lax plugin-start-timeout= timeout= concurrency= require-lock plugin-mtls h/help V/version
end

function __fish_cm_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cm_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cm_using_subcommand
    set -l cmd (__fish_cm_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cm -n "__fish_cm_needs_command" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_needs_command" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_needs_command" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_needs_command" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_needs_command" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_needs_command" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_needs_command" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_needs_command" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_needs_command" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_needs_command" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_needs_command" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_needs_command" -f -a "scan" -d 'List the tokens in a text without fetching anything (a dry run)'
complete -c cm -n "__fish_cm_needs_command" -f -a "insert" -d 'Replace every token in a template with its value (stdin to stdout by default)'
complete -c cm -n "__fish_cm_needs_command" -f -a "string-input" -d 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)'
complete -c cm -n "__fish_cm_needs_command" -f -a "fromstr" -d 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)'
complete -c cm -n "__fish_cm_needs_command" -f -a "getfromstr" -d 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)'
complete -c cm -n "__fish_cm_needs_command" -f -a "retrieve" -d 'Fetch tokens and write them as `export NAME=\'value\'` lines (or dotenv, JSON, YAML, ...)'
complete -c cm -n "__fish_cm_needs_command" -f -a "r" -d 'Fetch tokens and write them as `export NAME=\'value\'` lines (or dotenv, JSON, YAML, ...)'
complete -c cm -n "__fish_cm_needs_command" -f -a "fetch" -d 'Fetch tokens and write them as `export NAME=\'value\'` lines (or dotenv, JSON, YAML, ...)'
complete -c cm -n "__fish_cm_needs_command" -f -a "get" -d 'Fetch tokens and write them as `export NAME=\'value\'` lines (or dotenv, JSON, YAML, ...)'
complete -c cm -n "__fish_cm_needs_command" -f -a "exec" -d 'Run a command with the tokens in its environment resolved (`-- CMD [ARGS...]`)'
complete -c cm -n "__fish_cm_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c cm -n "__fish_cm_needs_command" -f -a "plugin" -d 'Install and list provider plugins, with their SHA-256 recorded in plugins.lock'
complete -c cm -n "__fish_cm_needs_command" -f -a "init" -d 'Create the plugin folders and report which plugins are missing (downloads nothing)'
complete -c cm -n "__fish_cm_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cm -n "__fish_cm_using_subcommand scan" -s i -l input -d 'The file to scan; `-` for stdin' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -l format -d 'Output format' -r -f -a "text\t'One line per token: position, token, parts'
json\t'One JSON object with every token'"
complete -c cm -n "__fish_cm_using_subcommand scan" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand scan" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand scan" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand scan" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand scan" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand scan" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand scan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand scan" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand insert" -s i -l input -d 'The template; `-` for stdin' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -s p -l path -d 'Where to write the result; `-` or `stdout` for stdout. May be the input file' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand insert" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand insert" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand insert" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand insert" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand insert" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand insert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand insert" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand string-input" -s i -l input -d 'A file path, `-` for stdin, or else the text itself' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -s p -l path -d 'Where to write the result; `stdout` or `-` for stdout. May be the input file' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand string-input" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand string-input" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand string-input" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand string-input" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand string-input" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand string-input" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand string-input" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s i -l input -d 'A file path, `-` for stdin, or else the text itself' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s p -l path -d 'Where to write the result; `stdout` or `-` for stdout. May be the input file' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand fromstr" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s i -l input -d 'A file path, `-` for stdin, or else the text itself' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s p -l path -d 'Where to write the result; `stdout` or `-` for stdout. May be the input file' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand getfromstr" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s t -l token -d 'A token to fetch; repeat for more. Lines come out in this order' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s p -l path -d 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l format -d 'Output format' -r -f -a "export\t'`export NAME=\'value\'`, for `. ./app.env` in any POSIX shell'
dotenv\t'`NAME=value`, double-quoted and escaped where needed, for python-dotenv. docker `--env-file` keeps quotes as part of the value and cannot hold a newline, so only values that need no quotes (letters, digits, `_-.,:/@%+=~`) reach it unchanged'
json\t'One JSON object `{"NAME": "value"}`'
yaml\t'A flat YAML map, `"NAME": "value"`, double-quoted and escaped so that any YAML parser reads each value back exactly'
k8s-secret\t'A Kubernetes Secret manifest (type Opaque, values base64-encoded under `data`) named by --name, in --namespace if given. For `kubectl apply -f`'
gha\t'GitHub Actions: `::add-mask::` for every value (each line of it) on stdout, and `NAME<<DELIMITER` blocks (random delimiter) appended to $GITHUB_ENV or -p FILE'
gha-output\t'As gha, for step outputs: the blocks are appended to $GITHUB_OUTPUT or -p FILE'"
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l name -d 'The Secret\'s name (k8s-secret only, required there): a DNS subdomain name' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l namespace -d 'The Secret\'s namespace (k8s-secret only): a DNS label' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand retrieve" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand r" -s t -l token -d 'A token to fetch; repeat for more. Lines come out in this order' -r
complete -c cm -n "__fish_cm_using_subcommand r" -s p -l path -d 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]' -r
complete -c cm -n "__fish_cm_using_subcommand r" -l format -d 'Output format' -r -f -a "export\t'`export NAME=\'value\'`, for `. ./app.env` in any POSIX shell'
dotenv\t'`NAME=value`, double-quoted and escaped where needed, for python-dotenv. docker `--env-file` keeps quotes as part of the value and cannot hold a newline, so only values that need no quotes (letters, digits, `_-.,:/@%+=~`) reach it unchanged'
json\t'One JSON object `{"NAME": "value"}`'
yaml\t'A flat YAML map, `"NAME": "value"`, double-quoted and escaped so that any YAML parser reads each value back exactly'
k8s-secret\t'A Kubernetes Secret manifest (type Opaque, values base64-encoded under `data`) named by --name, in --namespace if given. For `kubectl apply -f`'
gha\t'GitHub Actions: `::add-mask::` for every value (each line of it) on stdout, and `NAME<<DELIMITER` blocks (random delimiter) appended to $GITHUB_ENV or -p FILE'
gha-output\t'As gha, for step outputs: the blocks are appended to $GITHUB_OUTPUT or -p FILE'"
complete -c cm -n "__fish_cm_using_subcommand r" -l name -d 'The Secret\'s name (k8s-secret only, required there): a DNS subdomain name' -r
complete -c cm -n "__fish_cm_using_subcommand r" -l namespace -d 'The Secret\'s namespace (k8s-secret only): a DNS label' -r
complete -c cm -n "__fish_cm_using_subcommand r" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand r" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand r" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand r" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand r" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand r" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand r" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand r" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand r" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand r" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand r" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand r" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand fetch" -s t -l token -d 'A token to fetch; repeat for more. Lines come out in this order' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -s p -l path -d 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -l format -d 'Output format' -r -f -a "export\t'`export NAME=\'value\'`, for `. ./app.env` in any POSIX shell'
dotenv\t'`NAME=value`, double-quoted and escaped where needed, for python-dotenv. docker `--env-file` keeps quotes as part of the value and cannot hold a newline, so only values that need no quotes (letters, digits, `_-.,:/@%+=~`) reach it unchanged'
json\t'One JSON object `{"NAME": "value"}`'
yaml\t'A flat YAML map, `"NAME": "value"`, double-quoted and escaped so that any YAML parser reads each value back exactly'
k8s-secret\t'A Kubernetes Secret manifest (type Opaque, values base64-encoded under `data`) named by --name, in --namespace if given. For `kubectl apply -f`'
gha\t'GitHub Actions: `::add-mask::` for every value (each line of it) on stdout, and `NAME<<DELIMITER` blocks (random delimiter) appended to $GITHUB_ENV or -p FILE'
gha-output\t'As gha, for step outputs: the blocks are appended to $GITHUB_OUTPUT or -p FILE'"
complete -c cm -n "__fish_cm_using_subcommand fetch" -l name -d 'The Secret\'s name (k8s-secret only, required there): a DNS subdomain name' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -l namespace -d 'The Secret\'s namespace (k8s-secret only): a DNS label' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand fetch" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand fetch" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand fetch" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand fetch" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand fetch" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand fetch" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand get" -s t -l token -d 'A token to fetch; repeat for more. Lines come out in this order' -r
complete -c cm -n "__fish_cm_using_subcommand get" -s p -l path -d 'Where to write; `stdout` or `-` for stdout [default: ./app.env; gha: $GITHUB_ENV, gha-output: $GITHUB_OUTPUT, appended to]' -r
complete -c cm -n "__fish_cm_using_subcommand get" -l format -d 'Output format' -r -f -a "export\t'`export NAME=\'value\'`, for `. ./app.env` in any POSIX shell'
dotenv\t'`NAME=value`, double-quoted and escaped where needed, for python-dotenv. docker `--env-file` keeps quotes as part of the value and cannot hold a newline, so only values that need no quotes (letters, digits, `_-.,:/@%+=~`) reach it unchanged'
json\t'One JSON object `{"NAME": "value"}`'
yaml\t'A flat YAML map, `"NAME": "value"`, double-quoted and escaped so that any YAML parser reads each value back exactly'
k8s-secret\t'A Kubernetes Secret manifest (type Opaque, values base64-encoded under `data`) named by --name, in --namespace if given. For `kubectl apply -f`'
gha\t'GitHub Actions: `::add-mask::` for every value (each line of it) on stdout, and `NAME<<DELIMITER` blocks (random delimiter) appended to $GITHUB_ENV or -p FILE'
gha-output\t'As gha, for step outputs: the blocks are appended to $GITHUB_OUTPUT or -p FILE'"
complete -c cm -n "__fish_cm_using_subcommand get" -l name -d 'The Secret\'s name (k8s-secret only, required there): a DNS subdomain name' -r
complete -c cm -n "__fish_cm_using_subcommand get" -l namespace -d 'The Secret\'s namespace (k8s-secret only): a DNS label' -r
complete -c cm -n "__fish_cm_using_subcommand get" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand get" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand get" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand get" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand get" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand get" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand get" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand get" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand get" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand get" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand get" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand exec" -l env-file -d 'A dotenv file of variables for the command, whose values may hold tokens; repeat for more (later files win). The syntax `retrieve --format dotenv` writes, python-dotenv\'s' -r -F
complete -c cm -n "__fish_cm_using_subcommand exec" -l env -d 'A variable for the command, NAME=VALUE, whose value may hold tokens; repeat for more. Wins over cm\'s environment and --env-file' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand exec" -l pristine -d 'Give the command only PATH and the variables that held tokens or were set by --env-file and --env, not the rest of cm\'s environment'
complete -c cm -n "__fish_cm_using_subcommand exec" -l no-masking -d 'Do not mask the output: cm replaces itself with the command (execve), so signals and the exit status are the command\'s own and no cm process remains'
complete -c cm -n "__fish_cm_using_subcommand exec" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand exec" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand exec" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand exec" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand exec" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand exec" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand completion" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand completion" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand completion" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand completion" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand completion" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand completion" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand completion" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand completion" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand completion" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand completion" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand completion" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -f -a "install" -d 'Copy a plugin binary into place and record its SHA-256 in the lock file'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -f -a "list" -d 'List every plugin found, where, its SHA-256, and whether it matches the lock file'
complete -c cm -n "__fish_cm_using_subcommand plugin; and not __fish_seen_subcommand_from install list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l from -d 'The plugin binary, or WASI module (`.wasm`), to install' -r -F
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l allow-host -d 'WASI modules only: a host the module may send HTTP(S) requests to (`vault.example` allows the scheme\'s default port, `vault.example:8200` that port, `[::1]:8200` an IPv6 address); repeat for more' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l allow-env -d 'WASI modules only: an environment variable the module may read (with cm\'s value at run time); repeat for more' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l global -d 'Install under the home directory instead of $CONFIGMANAGER_DIR or the current directory'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from install" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from help" -f -a "install" -d 'Copy a plugin binary into place and record its SHA-256 in the lock file'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from help" -f -a "list" -d 'List every plugin found, where, its SHA-256, and whether it matches the lock file'
complete -c cm -n "__fish_cm_using_subcommand plugin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cm -n "__fish_cm_using_subcommand init" -l plugin -d 'A plugin prefix to prepare; repeat, or separate with commas' -r
complete -c cm -n "__fish_cm_using_subcommand init" -s s -l token-separator -d 'Separator between a token\'s prefix and its path' -r
complete -c cm -n "__fish_cm_using_subcommand init" -s k -l key-separator -d 'Separator between a token\'s path and its key path (one character)' -r
complete -c cm -n "__fish_cm_using_subcommand init" -l plugin-start-timeout -d 'Seconds a plugin may take to start and print its handshake' -r
complete -c cm -n "__fish_cm_using_subcommand init" -l timeout -d 'Seconds one value fetch may take' -r
complete -c cm -n "__fish_cm_using_subcommand init" -l concurrency -d 'Fetches in flight at once per plugin' -r
complete -c cm -n "__fish_cm_using_subcommand init" -l global -d 'Prepare the home directory instead of $CONFIGMANAGER_DIR or the current directory'
complete -c cm -n "__fish_cm_using_subcommand init" -s e -l enable-envsubst -d 'Expand ${VAR}, ${VAR:-default} and $VAR in the input before looking for tokens'
complete -c cm -n "__fish_cm_using_subcommand init" -s v -l verbose -d 'More log output on stderr (-v info, -vv debug, -vvv trace). Values are never logged'
complete -c cm -n "__fish_cm_using_subcommand init" -l lax -d 'Keep going when a token cannot be resolved: leave it as it was and warn'
complete -c cm -n "__fish_cm_using_subcommand init" -l require-lock -d 'Refuse to start a plugin whose `.configmanager` folder has no plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand init" -l plugin-mtls -d 'Use go-plugin AutoMTLS with every plugin, also on Unix sockets (always on for TCP)'
complete -c cm -n "__fish_cm_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cm -n "__fish_cm_using_subcommand init" -s V -l version -d 'Print version'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "scan" -d 'List the tokens in a text without fetching anything (a dry run)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "insert" -d 'Replace every token in a template with its value (stdin to stdout by default)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "string-input" -d 'Replace every token in a text, configmanager style (`-i` is a path, `-` or literal text)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "retrieve" -d 'Fetch tokens and write them as `export NAME=\'value\'` lines (or dotenv, JSON, YAML, ...)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "exec" -d 'Run a command with the tokens in its environment resolved (`-- CMD [ARGS...]`)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "completion" -d 'Print a shell completion script'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "plugin" -d 'Install and list provider plugins, with their SHA-256 recorded in plugins.lock'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "init" -d 'Create the plugin folders and report which plugins are missing (downloads nothing)'
complete -c cm -n "__fish_cm_using_subcommand help; and not __fish_seen_subcommand_from scan insert string-input retrieve exec completion plugin init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cm -n "__fish_cm_using_subcommand help; and __fish_seen_subcommand_from plugin" -f -a "install" -d 'Copy a plugin binary into place and record its SHA-256 in the lock file'
complete -c cm -n "__fish_cm_using_subcommand help; and __fish_seen_subcommand_from plugin" -f -a "list" -d 'List every plugin found, where, its SHA-256, and whether it matches the lock file'
