#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/log.h"

static void add_anchor(struct kbs *kbs, const struct kbs_anchor_file *a)
{
	kbs->anchors[kbs->n_anchors++] = (struct veil_snp_anchor){
		.product = a->product, .ark_der = a->ark, .ark_len = a->ark_len, .ask_der = a->ask, .ask_len = a->ask_len
	};
}

int kbs_init(struct kbs *kbs, const struct kbs_config *cfg, veil_err_t *err)
{
	memset(kbs, 0, sizeof(*kbs));
	kbs->cfg = *cfg;
	for (size_t i = 0; i < cfg->n_snp; i++)
		add_anchor(kbs, &cfg->snp[i]);
	if (cfg->emulated.ark != NULL) {
		add_anchor(kbs, &cfg->emulated);
		log_warn("this KBS trusts veil's EMULATED TEE root ([emulated] in its configuration): emulated evidence "
			 "protects nothing, the host plays the hardware and can sign any report");
	}
	pthread_rwlock_init(&kbs->policy_lock, NULL);
	if (kbs_store_init(cfg->data_dir, err) < 0 ||
	    kbs_sessions_init(&kbs->sessions, cfg->max_sessions, cfg->session_timeout, err) < 0)
		return -1;
	kbs->token_key = veil_jose_generate_key(VEIL_JWE_ECDH_ES_A256KW, err);
	if (kbs->token_key == NULL)
		return -1;
	return kbs_reload_policy(kbs, err);
}

void kbs_free(struct kbs *kbs)
{
	kbs_sessions_free(&kbs->sessions);
	kbs_policy_free(&kbs->policy);
	EVP_PKEY_free(kbs->token_key);
	pthread_rwlock_destroy(&kbs->policy_lock);
	kbs_config_free(&kbs->cfg);
}

int kbs_reload_policy(struct kbs *kbs, veil_err_t *err)
{
	struct kbs_policy fresh = { 0 };
	size_t rlen, plen;
	cleanup_free char *ref = kbs_store_get_file(kbs->cfg.data_dir, "reference-values.toml", &rlen, err);
	cleanup_free char *pol = ref != NULL ? kbs_store_get_file(kbs->cfg.data_dir, "policy.toml", &plen, err) : NULL;
	if (pol == NULL || kbs_reference_parse(ref, rlen, &fresh, err) < 0 || kbs_rules_parse(pol, plen, &fresh, err) < 0) {
		kbs_policy_free(&fresh);
		return -1;
	}
	pthread_rwlock_wrlock(&kbs->policy_lock);
	kbs_policy_free(&kbs->policy);
	kbs->policy = fresh;
	pthread_rwlock_unlock(&kbs->policy_lock);
	return 0;
}
