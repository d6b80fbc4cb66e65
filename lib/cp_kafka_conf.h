/* cp_kafka_conf: librdkafka properties given on a command line as -X KEY=VALUE, applied the same
 * way by cprof-push, cprof-worker and cprof-devbroker. */
#ifndef CP_KAFKA_CONF_H
#define CP_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Sets each "KEY=VALUE" of props on conf, in order (later ones win). Returns 0, or -1 with
 * "-X 'PROP': expected KEY=VALUE" or "-X PROP: librdkafka's reason" in err. */
int cp_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *err, size_t errlen);

#endif
