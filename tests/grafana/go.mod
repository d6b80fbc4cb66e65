module cprof.test/grafana

go 1.19
