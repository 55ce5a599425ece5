#include "kbs/kbs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lib/base64.h"
#include "lib/clock.h"
#include "lib/hex.h"

int kbs_sessions_init(struct kbs_sessions *s, size_t cap, unsigned ttl_s, veil_err_t *err)
{
	memset(s, 0, sizeof(*s));
	s->slots = calloc(cap, sizeof(*s->slots));
	if (s->slots == NULL)
		return veil_fail(err, ENOMEM, "sessions");
	s->cap = cap;
	s->ttl_ms = ttl_s * 1000u;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

static void slot_clear(struct kbs_session *slot)
{
	EVP_PKEY_free(slot->tee_key);
	free(slot->token);
	memset(slot, 0, sizeof(*slot));
}

void kbs_sessions_free(struct kbs_sessions *s)
{
	for (size_t i = 0; i < s->cap; i++)
		slot_clear(&s->slots[i]);
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

/* Under the lock: the live slot for id, clearing it if it has expired. */
static struct kbs_session *find(struct kbs_sessions *s, const char *id, long long now)
{
	if (strlen(id) != KBS_SESSION_ID_LEN)
		return NULL;
	for (size_t i = 0; i < s->cap; i++) {
		struct kbs_session *slot = &s->slots[i];
		if (slot->id[0] == '\0' || strcmp(slot->id, id) != 0)
			continue;
		if (slot->expires_ms <= now) {
			slot_clear(slot);
			return NULL;
		}
		return slot;
	}
	return NULL;
}

int kbs_session_new(struct kbs_sessions *s, enum veil_kbs_tee tee, enum veil_kbs_version version,
		    struct kbs_session *out, veil_err_t *err)
{
	uint8_t id[KBS_SESSION_ID_LEN / 2], nonce[VEIL_KBS_NONCE_BYTES];
	if (RAND_bytes(id, sizeof(id)) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1)
		return veil_fail(err, 0, "no random bytes for a session");
	char *nonce_b64 = veil_b64_encode(VEIL_B64_STD, nonce, sizeof(nonce));
	if (nonce_b64 == NULL)
		return veil_fail(err, ENOMEM, "session");
	long long now = veil_now_ms();
	pthread_mutex_lock(&s->lock);
	struct kbs_session *free_slot = NULL;
	for (size_t i = 0; i < s->cap && free_slot == NULL; i++) {
		struct kbs_session *slot = &s->slots[i];
		if (slot->id[0] != '\0' && slot->expires_ms <= now)
			slot_clear(slot);
		if (slot->id[0] == '\0')
			free_slot = slot;
	}
	if (free_slot != NULL) {
		veil_hex_encode(id, sizeof(id), free_slot->id);
		free_slot->tee = tee;
		free_slot->version = version;
		snprintf(free_slot->nonce, sizeof(free_slot->nonce), "%s", nonce_b64);
		free_slot->expires_ms = now + s->ttl_ms;
		*out = *free_slot;
	}
	pthread_mutex_unlock(&s->lock);
	free(nonce_b64);
	if (free_slot == NULL)
		return veil_fail_tagged(err, EAGAIN, "all %zu sessions are in use", s->cap);
	return 0;
}

int kbs_session_get(struct kbs_sessions *s, const char *id, struct kbs_session *out)
{
	pthread_mutex_lock(&s->lock);
	struct kbs_session *slot = find(s, id, veil_now_ms());
	if (slot != NULL) {
		*out = *slot;
		if (out->tee_key != NULL)
			EVP_PKEY_up_ref(out->tee_key);
		out->token = slot->token != NULL ? strdup(slot->token) : NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return slot != NULL;
}

int kbs_session_attest(struct kbs_sessions *s, const char *id, const char *nonce, const struct kbs_claims *claims,
		       EVP_PKEY *key, enum veil_jwe_alg alg, const char *token, veil_err_t *err)
{
	char *token_copy = strdup(token);
	if (token_copy == NULL)
		return veil_fail(err, ENOMEM, "session");
	pthread_mutex_lock(&s->lock);
	struct kbs_session *slot = find(s, id, veil_now_ms());
	int rc = 0;
	if (slot == NULL)
		rc = veil_fail_tagged(err, ENOENT, "session %s expired during attestation", id);
	else if (slot->attested || strcmp(slot->nonce, nonce) != 0)
		rc = veil_fail_tagged(err, EALREADY, "session %s: its nonce was already used", id);
	if (rc == 0) {
		slot->attested = true;
		slot->claims = *claims;
		EVP_PKEY_up_ref(key);
		slot->tee_key = key;
		slot->alg = alg;
		slot->token = token_copy;
		token_copy = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	free(token_copy);
	return rc;
}

void kbs_session_release(struct kbs_session *copy)
{
	EVP_PKEY_free(copy->tee_key);
	free(copy->token);
	memset(copy, 0, sizeof(*copy));
}
