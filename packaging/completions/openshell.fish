# fish completion for openshell (static: the commands of this release).
complete -c openshell -f
complete -c openshell -s g -l gateway -r -d 'gateway address (unix:/PATH or HOST:PORT)'
complete -c openshell -l color -x -a 'auto always never' -d 'colour output'
complete -c openshell -n '__fish_use_subcommand' -a 'gateway config sandbox help'
complete -c openshell -n '__fish_seen_subcommand_from gateway' -a start
complete -c openshell -n '__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from get set' -a 'get set'
complete -c openshell -n '__fish_seen_subcommand_from get set' -a ocsf_logging_enabled
complete -c openshell -n '__fish_seen_subcommand_from sandbox; and not __fish_seen_subcommand_from create list delete logs' -a 'create list delete logs'
complete -c openshell -n '__fish_seen_subcommand_from create' -l name -x -d 'sandbox name'
complete -c openshell -n '__fish_seen_subcommand_from create' -l policy -r -F -d 'policy YAML'
complete -c openshell -n '__fish_seen_subcommand_from logs' -s n -l lines -x -d 'last N lines'
complete -c openshell -n '__fish_seen_subcommand_from logs' -l since -x -d 'since time'
complete -c openshell -n '__fish_seen_subcommand_from logs' -l level -x -a 'trace debug info warn error ocsf'
complete -c openshell -n '__fish_seen_subcommand_from logs' -l source -x -a 'gateway sandbox'
complete -c openshell -n '__fish_seen_subcommand_from logs' -s f -l follow -d 'follow'
