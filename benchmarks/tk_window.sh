#!/usr/bin/env bash
# The --draw window (Tk) on a virtual display: a 7 drawn with the mouse by xdotool, then c, then q.
#   apt-get install xvfb xdotool imagemagick python3-tk
#   bash benchmarks/tk_window.sh m.pt [shots-folder]     # m.pt: a model saved with --save-model
# Prints the program's output (a "drawing: 7 ..." line) and its exit status; saves two screenshots.
set -u
model=${1:?usage: bash benchmarks/tk_window.sh MODEL.pt [SHOTS-FOLDER]} shots=${2:-tk_window_shots}
for tool in Xvfb xdotool import; do
    command -v $tool >/dev/null || { echo "tk_window: skipped: $tool is not installed"; exit 0; }
done
cd "$(dirname "$0")/.." && mkdir -p "$shots"
Xvfb :99 -screen 0 1280x1024x24 >/dev/null 2>&1 & xvfb=$!
trap 'kill $xvfb' EXIT
sleep 2
export DISPLAY=:99 && unset MPLBACKEND
python mnist_mlp.py --load-model "$model" --draw > "$shots/output.txt" 2>&1 & program=$!
for _ in $(seq 60); do
    window=$(xdotool search --name "Draw a digit" 2>/dev/null | head -1) && [ -n "$window" ] && break
    sleep 1
done
sleep 3
eval "$(xdotool getwindowgeometry --shell "$window")"
# The tests' 7, 140 pad pixels tall, as screen points: the pad is a square centred in the figure's
# box from 0.02 to 0.58 across and 0.08 to 0.97 down (DrawingPad.lay_out()).
python - "$X" "$Y" "$WIDTH" "$HEIGHT" > "$shots/points.txt" <<'PY'
import sys
x, y, width, height = map(int, sys.argv[1:])
side = min(0.56 * width, 0.89 * height)
left, top = x + 0.02 * width + (0.56 * width - side) / 2, y + 0.08 * height + (0.89 * height - side) / 2
corners = [(45 + 0.65 * 140 * u, 30 + 140 * v) for u, v in [(0.05, 0), (0.95, 0), (0.4, 1)]]
for (ax, ay), (bx, by) in zip(corners, corners[1:]):
    for step in range(11):
        px, py = ax + (bx - ax) * step / 10, ay + (by - ay) * step / 10
        print(round(left + px / 200 * side), round(top + py / 200 * side))
PY
xdotool mousemove $(head -1 "$shots/points.txt") && sleep 0.3 && xdotool mousedown 1
while read -r px py; do xdotool mousemove "$px" "$py"; sleep 0.05; done < "$shots/points.txt"
xdotool mouseup 1 && sleep 1 && import -window root "$shots/seven.png"
xdotool key c && sleep 1 && import -window root "$shots/cleared.png"
xdotool key q
wait $program; status=$?
cat "$shots/output.txt"
echo "exit status $status"
