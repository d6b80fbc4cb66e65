module cprof.test/pprofbad

go 1.19
