# bash completion for stormwatch(1): its commands, each command's options,
# and the values some of them take (files, folders, fixed words).
# Installed as share/bash-completion/completions/stormwatch; kept in step
# with each command's --help by tests/e2e_install.sh.

_stormwatch_opts_run="-c --config -C --changes -s --state -i --ingest -a --alerts
  --change-checks --pub --alertmanager --alertmanager-queue --generator-url
  --shards --ring-size --drop-when-full --max-message --drain-timeout
  --strict-files --record --record-max --record-gzip --curve-secret
  --curve-public --curve-allow --kafka-brokers --kafka-topic --kafka-group
  --kafka-property --kafka-alerts-topic --kafka-changes-topic
  --kafka-state-topic --kafka-checkpoint --stats-every --state-every --http
  --http-token-file --http-tls-cert --http-tls-key --changes-journal
  --log-level --log-format -h --help"
_stormwatch_opts_replay="-c --config -C --changes -k --change-checks -s --state
  -q --quiet -e --explain -r --report -m --summary -a --with-alerts --from
  --to --user -h --help"
_stormwatch_opts_simulate="--scenario --users --hours --interval --cadences
  --seed --start --learn --incident --bursts --long-bursts --noop --daily
  --weekly --timezone --rates --dispersion --alert-codes --batches --ramp
  --quirks --order --out --input --publish --speed --batch --hwm --linger
  -h --help"
_stormwatch_opts_check="-c --config -C --changes -h --help"
_stormwatch_commands="run replay simulate keygen check help"

_stormwatch() {
  local cur prev cmd i
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}

  # the command is the first word after the program that is not an option
  cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "$_stormwatch_commands -h --help -V --version" -- "$cur"))
    return
  fi

  # values of the option before the cursor
  case $prev in
    -c|--config|-C|--changes|-s|--state|-a|--alerts|--with-alerts|--change-checks|-k|\
    --alertmanager-queue|--record|--curve-secret|--curve-public|--curve-allow|\
    --http-token-file|--http-tls-cert|--http-tls-key|--changes-journal|\
    -r|--report|-m|--summary|--input)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --out)
      COMPREPLY=($(compgen -d -- "$cur"))
      return ;;
    --log-level)
      COMPREPLY=($(compgen -W "error warn info debug" -- "$cur"))
      return ;;
    --log-format)
      COMPREPLY=($(compgen -W "text logfmt json" -- "$cur"))
      return ;;
    --scenario)
      COMPREPLY=($(compgen -W "firewall mdm mixed daily hidden-mix demo" -- "$cur"))
      return ;;
    --order)
      COMPREPLY=($(compgen -W "offset id shuffled" -- "$cur"))
      return ;;
    -i|--ingest|--pub|--publish)
      COMPREPLY=($(compgen -W "tcp://127.0.0.1: connect:tcp:// sub:tcp:// bind:tcp://" -- "$cur"))
      return ;;
    --http|--alertmanager|--generator-url|--kafka-*|--shards|--ring-size|\
    --max-message|--drain-timeout|--record-max|--stats-every|--state-every|\
    -e|--explain|--from|--to|--user|--users|--hours|--interval|--cadences|--seed|\
    --start|--learn|--incident|--bursts|--long-bursts|--noop|--daily|--timezone|\
    --rates|--dispersion|--alert-codes|--speed|--batch|--hwm|--linger)
      return ;; # a value of the user's own
  esac

  case $cmd in
    run) COMPREPLY=($(compgen -W "$_stormwatch_opts_run" -- "$cur")) ;;
    check) COMPREPLY=($(compgen -W "$_stormwatch_opts_check" -- "$cur")) ;;
    simulate) COMPREPLY=($(compgen -W "$_stormwatch_opts_simulate" -- "$cur")) ;;
    replay)
      # options, then the recordings to replay
      if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_stormwatch_opts_replay" -- "$cur"))
      else
        COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    keygen) COMPREPLY=($(compgen -d -- "$cur")) ;; # DIR, then NAME
    help) COMPREPLY=($(compgen -W "$_stormwatch_commands" -- "$cur")) ;;
  esac
}
complete -o filenames -F _stormwatch stormwatch
