# zsh -f complete.zsh BEFORE AFTER OUT LINE
#
# Starts a fresh interactive zsh, runs BEFORE, compinit and AFTER in it, types
# LINE and a Tab, and appends every match that compadd was given to OUT.
zmodload zsh/zpty || exit 1
before=$1 after=$2 out=$3 line=$4
zpty z zsh -f -i || exit 1
# Type only at a prompt: zsh drops what is typed before zle is ready.
ready() { local r; zpty -r z r '*RE@DY> *' || exit 1 }
zpty -w z "PS1='RE@''DY> '"
ready
zpty -w z "$before; autoload -Uz compinit; compinit -u -D; bindkey '^I' complete-word; $after"
ready
# A compadd that only asks which words match (-O, -A, -D: what _describe
# does first) adds nothing, so it is not recorded.
zpty -w z "compadd() { if [[ \" \$* \" == *' -'[OAD]' '* ]]; then builtin compadd \"\$@\"; return; fi; local -a m; builtin compadd -O m \"\$@\"; print -rl -- \$m >> ${(q)out}; builtin compadd \"\$@\"; }"
ready
zpty -w -n z "$line"$'\t'$'\x15'
zpty -w z "print -r -- __DO''NE__"
zpty -r z reply '*__DONE__*' || exit 1
zpty -d z
