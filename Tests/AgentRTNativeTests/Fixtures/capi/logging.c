/* The embedding API's logging contract: silent by default (nothing on the host's stderr), log
 * lines reach agentrt_set_log_callback sanitised (one line, escapes escaped), and NULL silences
 * again. Usage: logging <libexec_cli.so>. Prints "logging: OK" on success. */
#include <agentrt/agentrt.h>
#include <stdio.h>
#include <string.h>

static int lines, bad;

static void on_log(void *user_data, int32_t level, const char *line, size_t length) {
    (void)user_data;
    lines++;
    if (strlen(line) != length || strchr(line, '\n') || strchr(line, '\x1b')) bad++;
    if (level != AGENTRT_LOG_ERROR || !strstr(line, "line one\\nFAKE")) bad++;
    printf("log %d: %s\n", level, line);
}

static int run_logger(agentrt_runtime *rt) {
    char *result = NULL, *error = NULL;
    agentrt_status s = agentrt_run(rt, "exec_cli", "logger", "u", "{}", NULL, &result, &error, NULL);
    agentrt_free(result);
    agentrt_free(error);
    return s;
}

int main(int argc, char **argv) {
    agentrt_runtime *rt = NULL;
    char *err = NULL;
    if (argc < 2 || agentrt_runtime_new(NULL, &rt) != AGENTRT_OK) return 2;
    if (agentrt_load_plugin(rt, argv[1], NULL, NULL, &err) != AGENTRT_OK) { fprintf(stdout, "load: %s\n", err); return 2; }
    if (run_logger(rt) != AGENTRT_OK) return 3;           /* default: silent (the test checks stderr) */
    if (lines != 0) return 4;
    if (agentrt_set_log_callback(rt, AGENTRT_LOG_WARN, on_log, NULL) != AGENTRT_OK) return 5;
    if (run_logger(rt) != AGENTRT_OK) return 6;
    if (lines != 1 || bad) { printf("lines=%d bad=%d\n", lines, bad); return 7; }
    if (agentrt_set_log_callback(rt, 9, on_log, NULL) != AGENTRT_ERR_INVALID_ARGUMENT) return 8;
    if (agentrt_set_log_callback(rt, 0, NULL, NULL) != AGENTRT_OK) return 9;
    if (run_logger(rt) != AGENTRT_OK || lines != 1) return 10;
    agentrt_runtime_free(rt);
    printf("logging: OK\n");
    return 0;
}
