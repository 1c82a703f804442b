#!/usr/bin/env bash
# The drawing pad in a real Tk window on a virtual display: a 1 and a 7 drawn with the mouse by
# xdotool (c clears between them), then q. Checks that it printed "drawing: 1 ..." and then
# "drawing: 7 ...", and that q ended it with exit status 0; saves screenshots of the window.
#   apt-get install xvfb xdotool imagemagick python3-tk
#   python mnist_mlp.py                                     # trains a network, saves mnist_mlp.pt
#   bash benchmarks/tk_window.sh [MODEL.pt] [SHOTS-FOLDER]  # defaults: mnist_mlp.pt, tk_window_shots
set -u
model=$(realpath "${1:-mnist_mlp.pt}") shots=${2:-tk_window_shots}
for tool in Xvfb xdotool import; do
    command -v $tool >/dev/null || { echo "tk_window: skipped: $tool is not installed"; exit 0; }
done
cd "$(dirname "$0")/.." && mkdir -p "$shots"
Xvfb :99 -screen 0 1280x800x24 >/dev/null 2>&1 & xvfb=$!
trap 'kill $xvfb' EXIT
sleep 2
export DISPLAY=:99 MPLBACKEND=TkAgg
python -m play draw --model "$model" > "$shots/output.txt" 2>&1 & program=$!
for _ in $(seq 60); do
    window=$(xdotool search --name "Draw a digit" 2>/dev/null | head -1) && [ -n "$window" ] && break
    sleep 1
done
sleep 3
eval "$(xdotool getwindowgeometry --shell "$window")"

# Screen points of a stroke through pad pixels (0-200, y downwards), ten moves a segment. The pad
# is a square centred in its box, 0.02 to 0.58 of the figure across and 0.08 to 0.97 down (lay_out()).
stroke() {
    python - "$X" "$Y" "$WIDTH" "$HEIGHT" "$@" > "$shots/points.txt" <<'PY'
import sys
x, y, width, height, *pad = map(float, sys.argv[1:])
side = min(0.56 * width, 0.89 * height)
left, top = x + 0.02 * width + (0.56 * width - side) / 2, y + 0.08 * height + (0.89 * height - side) / 2
corners = list(zip(pad[::2], pad[1::2]))
print(round(left + corners[0][0] / 200 * side), round(top + corners[0][1] / 200 * side))
for (ax, ay), (bx, by) in zip(corners, corners[1:]):
    for step in range(1, 11):
        px, py = ax + (bx - ax) * step / 10, ay + (by - ay) * step / 10
        print(round(left + px / 200 * side), round(top + py / 200 * side))
PY
    xdotool mousemove $(head -1 "$shots/points.txt") && sleep 0.3 && xdotool mousedown 1
    while read -r px py; do xdotool mousemove "$px" "$py"; sleep 0.03; done < "$shots/points.txt"
    xdotool mouseup 1 && sleep 1
}
shot() { import -window root -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage "$shots/$1"; }  # the window
stroke 100 30 100 170 && shot 1-one.png
xdotool key c && sleep 1
stroke 45 35 150 35 85 170 && shot 2-seven.png
xdotool click 3 && sleep 1 && shot 3-right-click.png
xdotool key q
wait $program; status=$?

cat "$shots/output.txt"
readings=$(grep -o '^drawing: [0-9]' "$shots/output.txt" | cut -c10- | tr -d '\n')
failed=0
check() { if [ "$1" = "$2" ]; then echo "ok   $3"; else echo "FAIL $3 (got: $1)"; failed=1; fi; }
check "$readings" "17" "a 1 and then a 7 read"
check "$status" "0" "q quits with exit status 0"
echo "screenshots in $shots/"
exit $failed
