/* cp_kafka_conf: -X properties onto a librdkafka configuration; see cp_kafka_conf.h. */
#include "cp_kafka_conf.h"

#include <stdio.h>

#include "cp_args.h"

int cp_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char key[256], why[512];
		const char *value;
		if (cp_args_pair(props[i], key, sizeof key, &value, why, sizeof why)) {
			snprintf(err, errlen, "-X %s", why);
			return -1;
		}
		if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "-X %s: %s", props[i], why);
			return -1;
		}
	}
	return 0;
}
