/* Where the Kubernetes API server is and how to authenticate to it, from the three
 * sources the Collector names in auth_type:
 *  - serviceAccount: KUBERNETES_SERVICE_HOST/_PORT, the token and CA under the service
 *    account directory (/var/run/secrets/kubernetes.io/serviceaccount);
 *  - kubeConfig: the file named by KUBECONFIG (first of a ':' list), else ~/.kube/config;
 *    its current context's cluster (server, certificate-authority[-data],
 *    insecure-skip-tls-verify) and user (token, tokenFile, client-certificate[-data],
 *    client-key[-data]);
 *  - none: KUBERNETES_SERVICE_HOST/_PORT without credentials.
 * Token files are read again for every request, so a rotated token is picked up. */
#ifndef OPD_K8S_AUTH_H
#define OPD_K8S_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPD_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct opd_k8s_conn {
    char *server; /* "https://10.0.0.1:443", no trailing slash */
    char *ca_file;
    uint8_t *ca_data; /* PEM */
    size_t ca_len;
    bool insecure;
    char *token;      /* static bearer token, or NULL */
    char *token_file; /* re-read per request, or NULL */
    char *cert_file, *key_file;
    uint8_t *cert_data, *key_data; /* PEM */
    size_t cert_len, key_len;
};

/* Fills c from the in-cluster environment; sa_dir NULL means OPD_K8S_SA_DIR. with_token
 * false is auth_type none. Returns 0, or -ENOENT with a message in err when
 * KUBERNETES_SERVICE_HOST is unset, -ENOMEM. c must be released with opd_k8s_conn_fini. */
int opd_k8s_conn_from_service_account(struct opd_k8s_conn *c, const char *sa_dir, bool with_token,
                                      char *err, size_t errlen);

/* Fills c from a kubeconfig file; path NULL means $KUBECONFIG, else ~/.kube/config.
 * Relative file names in it are taken from the file's directory. Returns 0, -ENOENT,
 * -EINVAL (with a message in err) or -ENOMEM. */
int opd_k8s_conn_from_kubeconfig(struct opd_k8s_conn *c, const char *path, char *err,
                                 size_t errlen);

void opd_k8s_conn_fini(struct opd_k8s_conn *c);

/* Copies the current bearer token into buf (trailing whitespace removed). Returns its
 * length, 0 when there is none, or -errno when the token file cannot be read or the token
 * does not fit. */
long opd_k8s_conn_token(const struct opd_k8s_conn *c, char *buf, size_t len);

#endif
