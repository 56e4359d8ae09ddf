/*
 * isolated — a C host with one isolated crashing plugin and one healthy in-process plugin,
 * running both at once: every call of the crashing agent ends AGENTRT_ERR_CRASHED naming the
 * signal, every result of the healthy user is exactly its own, and the host survives.
 *   usage: isolated <libiso_crash.so> <libexec_tools.so>
 */
#include "capi_common.h"

static agentrt_runtime *rt;
static atomic_int healthy_ok, crashes_seen;

static void *healthy_user(void *arg) {
    int i;
    (void)arg;
    for (i = 0; i < 300; i++) {
        char input[64], *result = NULL, *error = NULL;
        agentrt_status s;
        snprintf(input, sizeof input, "{\"i\":%d,\"who\":\"healthy\"}", i);
        s = agentrt_run(rt, "exec_tools", "echo", "healthy", input, NULL, &result, &error, NULL);
        if (s != AGENTRT_OK || result == NULL || strcmp(result, input) != 0)
            capi_fail("healthy user", "run %d: status %d result %s error %s", i, (int)s, capi_s(result), capi_s(error));
        atomic_fetch_add(&healthy_ok, 1);
        agentrt_free(result);
        agentrt_free(error);
    }
    return NULL;
}

static void *crashing_user(void *arg) {
    int i;
    (void)arg;
    for (i = 0; i < 12; i++) {
        char *result = NULL, *error = NULL;
        agentrt_status s = agentrt_run(rt, "iso_crash", "segv", "crasher", "{}", NULL, &result, &error, NULL);
        if (s == AGENTRT_ERR_CRASHED) {
            if (error == NULL || strstr(error, "killed by SIGSEGV") == NULL)
                capi_fail("crashing user", "message does not name the signal: %s", capi_s(error));
            atomic_fetch_add(&crashes_seen, 1);
        } else if (s != AGENTRT_ERR_CIRCUIT_OPEN) {
            capi_fail("crashing user", "run %d: status %d (%s)", i, (int)s, capi_s(error));
        }
        agentrt_free(result);
        agentrt_free(error);
    }
    return NULL;
}

int main(int argc, char **argv) {
    agentrt_config config;
    agentrt_load_options opts;
    char *name = NULL, *error = NULL;
    pthread_t a, b;
    if (argc != 3) { fprintf(stderr, "usage: isolated <libiso_crash.so> <libexec_tools.so>\n"); return 2; }
    capi_watchdog(120);
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.per_user_limit = 8;
    capi_begin("runtime_new");
    if (agentrt_runtime_new(&config, &rt) != AGENTRT_OK) capi_fail("runtime_new", "failed");
    capi_pass("runtime_new");

    capi_begin("bad load options");
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.isolation = 7;
    if (agentrt_load_plugin_with(rt, argv[1], &opts, &name, &error) != AGENTRT_ERR_INVALID_ARGUMENT || error == NULL)
        capi_fail("bad load options", "isolation 7 accepted (%s)", capi_s(error));
    agentrt_free(error); error = NULL;
    opts.isolation = AGENTRT_ISOLATION_PROCESS;
    opts.struct_size = 8;
    if (agentrt_load_plugin_with(rt, argv[1], &opts, &name, &error) != AGENTRT_ERR_INVALID_ARGUMENT)
        capi_fail("bad load options", "struct_size 8 accepted");
    agentrt_free(error); error = NULL;
    capi_pass("bad load options");

    capi_begin("load isolated");
    opts.struct_size = sizeof opts;
    opts.workers = 2;
    if (agentrt_load_plugin_with(rt, argv[1], &opts, &name, &error) != AGENTRT_OK || strcmp(capi_s(name), "iso_crash") != 0)
        capi_fail("load isolated", "%s", capi_s(error));
    agentrt_free(name); name = NULL;
    capi_pass("load isolated");

    capi_begin("load in-process");
    if (agentrt_load_plugin_with(rt, argv[2], NULL, &name, &error) != AGENTRT_OK)
        capi_fail("load in-process", "%s", capi_s(error));
    agentrt_free(name); name = NULL;
    capi_pass("load in-process");

    capi_begin("both at once");
    pthread_create(&a, NULL, healthy_user, NULL);
    pthread_create(&b, NULL, crashing_user, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    if (atomic_load(&healthy_ok) != 300) capi_fail("both at once", "healthy results %d", atomic_load(&healthy_ok));
    if (atomic_load(&crashes_seen) < 1) capi_fail("both at once", "no crash reported");
    capi_pass("both at once");

    capi_begin("isolated plugin still serves");
    {
        char *result = NULL;
        if (agentrt_run(rt, "iso_crash", "ok", "another", "{}", NULL, &result, &error, NULL) != AGENTRT_OK)
            capi_fail("isolated plugin still serves", "%s", capi_s(error));
        agentrt_free(result);
    }
    capi_pass("isolated plugin still serves");

    agentrt_runtime_free(rt);
    printf("OK: %d healthy results exact, %d crashes contained\n", atomic_load(&healthy_ok), atomic_load(&crashes_seen));
    return 0;
}
