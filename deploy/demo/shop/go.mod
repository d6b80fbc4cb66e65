module cprof.demo/shop

go 1.19
