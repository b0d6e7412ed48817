# bash completion for openshell (static: the commands of this release).
_openshell()
{
	local cur prev words cword
	_init_completion 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local i cmd="" sub=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-g | --gateway | --color) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${words[i]}; elif [[ -z $sub ]]; then sub=${words[i]}; fi ;;
		esac
	done
	case $prev in
	-g | --gateway) COMPREPLY=($(compgen -W "unix:/var/lib/openshell/gateway.sock" -- "$cur")); return ;;
	--color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
	--policy) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--level) COMPREPLY=($(compgen -W "trace debug info warn error ocsf" -- "$cur")); return ;;
	--source) COMPREPLY=($(compgen -W "gateway sandbox" -- "$cur")); return ;;
	esac
	case $cmd in
	"") COMPREPLY=($(compgen -W "gateway config sandbox help --gateway --color --no-color --help --version" -- "$cur")) ;;
	gateway) [[ -z $sub ]] && COMPREPLY=($(compgen -W "start" -- "$cur")) ;;
	config)
		if [[ -z $sub ]]; then COMPREPLY=($(compgen -W "get set" -- "$cur"))
		else COMPREPLY=($(compgen -W "ocsf_logging_enabled" -- "$cur")); fi ;;
	sandbox)
		case $sub in
		"") COMPREPLY=($(compgen -W "create list delete logs" -- "$cur")) ;;
		create) COMPREPLY=($(compgen -W "--name --policy --help" -- "$cur")) ;;
		logs) COMPREPLY=($(compgen -W "-n --lines --since --level --source -f --follow --help" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
		esac ;;
	help) COMPREPLY=($(compgen -W "gateway config sandbox" -- "$cur")) ;;
	esac
}
complete -F _openshell openshell
