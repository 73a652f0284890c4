#!/bin/sh
# Builds the hotline's own prompts: prompts/<lang>/<name>.txt -> OUT/<lang>/<name>.wav
# (8 kHz, mono, 16 bit: what Asterisk plays without transcoding). Used by the test rig
# (callcenter/rig/prompts.py) and by docker/asterisk.Dockerfile, so both speak the same.
# Needs espeak-ng and sox. Usage: build.sh SRC_DIR OUT_DIR
set -eu
src=$1
out=$2
for dir in "$src"/*/; do
  lang=$(basename "$dir")
  case $lang in
    zh) voice=cmn ;;
    *) voice=$lang ;;
  esac
  mkdir -p "$out/$lang"
  for txt in "$dir"*.txt; do
    name=$(basename "$txt" .txt)
    espeak-ng -v "$voice" -s 160 -f "$txt" -w "$out/$lang/$name.tmp.wav"
    # gain -n -3: espeak-ng peaks at full scale and resampling would clip.
    sox -q "$out/$lang/$name.tmp.wav" -r 8000 -c 1 -b 16 "$out/$lang/$name.wav" gain -n -3
    rm "$out/$lang/$name.tmp.wav"
  done
done
