/* Logging: the only mutable global in the project (see STYLE.md). Thread-safe, to stderr. */
#ifndef ZTNA_COMMON_LOG_H
#define ZTNA_COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parses "debug", "info", "warn", "error"; returns false on anything else. */
bool log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...) log_msg(LOG_LVL_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_msg(LOG_LVL_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_msg(LOG_LVL_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_msg(LOG_LVL_ERROR, comp, __VA_ARGS__)

#endif
