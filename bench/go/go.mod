// The Go peers of the goro benchmarks: one program per workload, standard
// library only (no dependencies, so `go build` never needs the network).
module gorobench

go 1.19
