#!/usr/bin/env bash
# `twolayer sweep` on a real Dask cluster: a scheduler and two single-threaded workers on
# 127.0.0.1 run a sweep whose results must equal those of local worker processes. Then the same
# sweep across network namespaces (each worker on a "host" of its own, joined to the scheduler's
# by a veth pair), with one worker killed mid-sweep: its run goes to the other worker (or is
# recorded as failed) and the sweep finishes. Every process this step starts is stopped on exit,
# and the namespaces of an earlier run killed before it could remove them are removed at the start.
set -euo pipefail
. .ci/lib.sh
new_venv dask
install_package dask ".[dask,test]"
mnist=${TWOLAYER_MNIST_DIR:-$PWD/../shared/mnist}
[[ -d $mnist ]] || { echo "MNIST not found in $mnist: set TWOLAYER_MNIST_DIR" >&2; exit 1; }
work=$(mktemp -d "$CI_WORK/dask.XXXXXX")
# 8 runs of about two seconds each.
sweep=(twolayer sweep --lr 0.1 1 --hidden 20 50 --iters 300 --seeds 2 --data-dir "$mnist")
started=()  # pids of the scheduler and workers
namespaces=()

stop_all() {
  local pid ns
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  started=() namespaces=()
}
trap stop_all EXIT

# remove_stale_namespaces: a run of this step killed (SIGKILL, a cancelled job) leaves its network
# namespaces, twolayer-*-PID, whose veth pairs hold 10.77.x.1 and break every later run. Removes
# those whose PID is no longer a run of this step (a PID since reused by another program too).
remove_stale_namespaces() {
  local ns pid
  command -v ip >/dev/null || return 0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^twolayer-(w1|w2|probe)-([0-9]+)$ ]] || continue
    pid=${BASH_REMATCH[2]}
    if grep -qas '70-dask\.sh' "/proc/$pid/cmdline"; then
      continue  # a run of this step still going: its namespaces are its own
    fi
    # The host's end of its veth pair first: deleted at once, where the namespace's removal takes
    # the pair (and 10.77.x.1) only later.
    ip link del "tlh${BASH_REMATCH[1]#w}-$pid" 2>/dev/null || true
    if ip netns del "$ns"; then
      echo "removed the network namespace $ns, left by a run that is gone"
    else
      echo "cannot remove the network namespace $ns, left by a run that is gone" >&2
    fi
  done
}
remove_stale_namespaces

# start NAME COMMAND...: runs COMMAND in the background, its output in $work/NAME.log.
start() {
  local name=$1
  shift
  timeout 300 "$@" >"$work/$name.log" 2>&1 &  # stops by itself even if this script is killed
  started+=($!)
}

# wait_for_workers ADDRESS N: until N workers have joined the scheduler, so that the sweep uses them all.
wait_for_workers() {
  python -c "from distributed import Client; Client('$1', timeout=60).wait_for_workers($2, timeout=60)"
}

# Same settings and seed, same final accuracies, whoever ran them.
compare() {
  python - "$1" "$2" <<'EOF'
import json, sys
def finals(path):
    records = [json.loads(line) for line in open(path)]
    return {json.dumps([r["settings"], r["seed"]], sort_keys=True): r for r in records}
local, dask = finals(sys.argv[1]), finals(sys.argv[2])
assert len(local) == 8 and set(dask) == set(local), (len(local), len(dask))
done = [key for key, r in dask.items() if r["status"] == "done"]
for key in done:
    assert dask[key]["final_test_acc"] == local[key]["final_test_acc"], key
    assert dask[key]["test_acc_list"] == local[key]["test_acc_list"], key
failed = [key for key, r in dask.items() if r["status"] != "done"]
print(f"{len(done)} runs equal to the local ones; {len(failed)} failed: {failed}")
assert len(done) >= 7, "at most the killed worker's run may fail"
print("workers:", sorted({r["worker"] for r in dask.values() if r["worker"]}))
EOF
}

echo "== the tests that need Dask ($SECONDS s)"
python -m pytest tests/test_sweep.py tests/test_sweep_edges.py -q -k "scheduler or dask"

echo "== local workers ($SECONDS s)"
"${sweep[@]}" --workers 2 --out "$work/local" >"$work/local.log" || { cat "$work/local.log"; exit 1; }
tail -n 8 "$work/local.log"

echo "== Dask: a scheduler and two single-threaded workers on 127.0.0.1 ($SECONDS s)"
start scheduler dask scheduler --host 127.0.0.1 --port 0 --no-dashboard --scheduler-file "$work/scheduler.json"
for _ in $(seq 100); do [[ -s $work/scheduler.json ]] && break; sleep 0.1; done
address=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['address'])" "$work/scheduler.json")
for i in 1 2; do
  start "worker$i" dask worker "$address" --nthreads 1 --nworkers 1 --no-dashboard --host 127.0.0.1
done
wait_for_workers "$address" 2
"${sweep[@]}" --scheduler "$address" --connect-timeout 60 --out "$work/dask" >"$work/dask.log" \
  || { cat "$work/dask.log" "$work"/*.log; exit 1; }
compare "$work/local/runs.jsonl" "$work/dask/runs.jsonl"

echo "== successive halving: the same promotions on local workers and on Dask ($SECONDS s)"
halving=(twolayer sweep --lr 0.05 0.3 1 3 --hidden 10 --epochs 4 --train-size 600
  --validation-size 300 --halving 2 --data-dir "$mnist")
"${halving[@]}" --workers 2 --out "$work/halving-local" >"$work/halving-local.log" \
  || { cat "$work/halving-local.log"; exit 1; }
"${halving[@]}" --scheduler "$address" --connect-timeout 60 --out "$work/halving-dask" \
  >"$work/halving-dask.log" || { cat "$work/halving-dask.log" "$work"/*.log; exit 1; }
python - "$work/halving-local/runs.jsonl" "$work/halving-dask/runs.jsonl" <<'EOF'
import json, sys
def fates(path):
    records = [json.loads(line) for line in open(path)]
    return {json.dumps(r["settings"], sort_keys=True): (r["rung"], r["status"], r["val_acc_list"])
            for r in records}
local, dask = fates(sys.argv[1]), fates(sys.argv[2])
assert len(local) == 4 and local == dask, (local, dask)
print("the same rungs, statuses and validation accuracies:", sorted(f[:2] for f in local.values()))
EOF
stop_all

if ! ip netns add "twolayer-probe-$$" 2>/dev/null; then
  echo "== network namespaces: not available here (needs root); done without them"
  exit 0
fi
ip netns del "twolayer-probe-$$"
echo "== Dask across network namespaces: the scheduler here, each worker in its own, one killed ($SECONDS s)"
for i in 1 2; do
  ns=twolayer-w$i-$$
  ip netns add "$ns"
  namespaces+=("$ns")
  ip link add "tlh$i-$$" type veth peer name "tlc$i-$$"
  ip link set "tlc$i-$$" netns "$ns"
  ip addr add "10.77.$i.1/24" dev "tlh$i-$$"
  ip link set "tlh$i-$$" up
  ip netns exec "$ns" ip addr add "10.77.$i.2/24" dev "tlc$i-$$"
  ip netns exec "$ns" ip link set "tlc$i-$$" up
done  # each veth pair goes when its namespace is deleted
start scheduler dask scheduler --host 0.0.0.0 --port 0 --no-dashboard --scheduler-file "$work/net.json"
for _ in $(seq 100); do [[ -s $work/net.json ]] && break; sleep 0.1; done
port=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['address'].rsplit(':', 1)[1])" "$work/net.json")
for i in 1 2; do
  start "net-worker$i" ip netns exec "twolayer-w$i-$$" dask worker "tcp://10.77.$i.1:$port" \
    --nthreads 1 --no-dashboard --host "10.77.$i.2" --no-nanny
done
wait_for_workers "tcp://127.0.0.1:$port" 2
victim=${started[1]}  # the first worker's `timeout`, whose child is the worker
"${sweep[@]}" --scheduler "tcp://127.0.0.1:$port" --connect-timeout 60 --out "$work/net" \
  >"$work/net.log" 2>&1 &
sweeping=$!
for _ in $(seq 600); do  # kill the first worker once the sweep has finished a run
  [[ -s $work/net/runs.jsonl ]] && break
  sleep 0.1
done
pkill -KILL -P "$victim"  # the worker itself, at once, as a machine that fails
status=0
wait "$sweeping" || status=$?
cat "$work/net.log"
[[ $status == 0 || $status == 1 ]] || { cat "$work"/net-worker*.log; exit 1; }  # 1: a run recorded failed
compare "$work/local/runs.jsonl" "$work/net/runs.jsonl"
echo "== done ($SECONDS s)"
