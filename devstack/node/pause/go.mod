// The pause program of the local stack's node: standard library only.
module github.com/torghut/torghut-sim/devstack/node/pause

go 1.25.0
