/*-------------------------------------------------------------------------
 *
 * capture.c
 *		What a connection attempt is: the facts read from the Port, the TLS
 *		session and the client certificate.
 *
 * Everything here reads; nothing judges.  The TLS facts come from OpenSSL
 * directly, because pg_stat_ssl is not populated yet when authentication
 * runs and because PostgreSQL's accessors truncate what we must keep whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netdb.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/ip.h"
#include "libpq/hba.h"
#include "miscadmin.h"
#include "replication/walsender.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgtls_audit.h"

/* SHA-256, fetched once in the postmaster rather than per connection. */
static EVP_MD *sha256 = NULL;

static bool handshake_completed(SSL *ssl);
static void capture_tls(Port *port, AuditAttempt *attempt);
static char *name_to_rfc2253(X509_NAME *name);
static char *serial_to_decimal(const ASN1_INTEGER *serial);
static char *sha256_fingerprint(X509 *cert);
static TimestampTz asn1_time_to_timestamptz(const ASN1_TIME *time);

void
capture_init(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const char *
transport_name(AuditTransport transport)
{
	switch (transport)
	{
		case TRANSPORT_UNIX:
			return "unix";
		case TRANSPORT_IPV4:
			return "ipv4";
		case TRANSPORT_IPV6:
			return "ipv6";
	}
	return "unknown";
}

const char *
outcome_name(AuditOutcome outcome)
{
	switch (outcome)
	{
		case OUTCOME_ACCEPTED:
			return "accepted";
		case OUTCOME_REJECTED:
			return "rejected";
		case OUTCOME_AUTH_FAILED:
			return "auth_failed";
		case OUTCOME_ABANDONED:
			return "abandoned";
		case OUTCOME_REFUSED:
			return "refused";
	}
	return "unknown";
}

const char *
stage_name(AuditStage stage)
{
	switch (stage)
	{
		case STAGE_AUTHENTICATION:
			return "authentication";
		case STAGE_HANDSHAKE:
			return "handshake";
		case STAGE_AUTHORIZATION:
			return "authorization";
	}
	return "unknown";
}

/*
 * Fill *attempt with what is known about the connection on "port" once
 * PostgreSQL's authentication has run with result "status".  The verdict
 * fields are left for policy.c.
 */
void
capture_attempt(Port *port, int status, AuditAttempt *attempt)
{
	memset(attempt, 0, sizeof(AuditAttempt));

	attempt->time = GetCurrentTimestamp();
	attempt->pid = MyProcPid;
	attempt->user_name = port->user_name;
	attempt->database_name = port->database_name;
	attempt->application_name = port->application_name;
	attempt->replication = am_walsender;
	attempt->client_port = -1;
	attempt->auth_method_code = -1;
	attempt->auth_status = status;

	switch (port->raddr.addr.ss_family)
	{
		case AF_INET:
		case AF_INET6:
			{
				char		host[NI_MAXHOST];
				char		service[NI_MAXSERV];

				attempt->transport = port->raddr.addr.ss_family == AF_INET ?
					TRANSPORT_IPV4 : TRANSPORT_IPV6;
				attempt->client_sockaddr = &port->raddr;
				if (pg_getnameinfo_all(&port->raddr.addr, port->raddr.salen,
									   host, sizeof(host),
									   service, sizeof(service),
									   NI_NUMERICHOST | NI_NUMERICSERV) == 0)
				{
					/*
					 * "fe80::1%eth0": inet has no zone id, so drop it as
					 * pg_stat_activity.client_addr does
					 */
					clean_ipv6_addr(port->raddr.addr.ss_family, host);
					attempt->client_addr = pstrdup(host);
					attempt->client_port = atoi(service);
				}
				break;
			}
		default:
			attempt->transport = TRANSPORT_UNIX;
			break;
	}

	if (port->hba != NULL)
	{
		attempt->auth_method = hba_authname(port->hba->auth_method);
		attempt->auth_method_code = port->hba->auth_method;
		attempt->hba_line = port->hba->linenumber;
	}

#ifdef ENABLE_GSS

	/*
	 * PostgreSQL marks GSSAPI authentication before the exchange, so only a
	 * successful one counts.  The principal is the one the exchange (or the
	 * GSSAPI encryption) proved, also when it did not match the role.
	 */
	if (port->gss != NULL)
	{
		attempt->gss_authenticated = be_gssapi_get_auth(port) &&
			status == STATUS_OK;
		attempt->gss_encrypted = be_gssapi_get_enc(port);
		attempt->gss_principal = be_gssapi_get_princ(port);
	}
#endif

	/*
	 * A refused handshake has no TLS facts worth the name (ssl_in_use is set
	 * before it); a session that completed its handshake keeps them, even
	 * once an error (a bad record) has ended it.
	 */
	if (port->ssl_in_use && port->ssl != NULL &&
		handshake_completed((SSL *) port->ssl))
	{
		attempt->ssl = true;
		capture_tls(port, attempt);
		if (port->peer != NULL)
		{
			attempt->cert_verified = port->peer_cert_valid &&
				SSL_get_verify_result((SSL *) port->ssl) == X509_V_OK;
			capture_certificate((X509 *) port->peer, attempt);
		}
	}
}

/*
 * The TLS facts of a handshake that the client broke off once the server
 * had chosen its parameters, as a client does that rejects the server's
 * certificate: protocol, cipher, group and SNI are known.
 */
void
capture_unfinished_handshake(Port *port, AuditAttempt *attempt)
{
	SSL		   *ssl = (SSL *) port->ssl;

	if (attempt->ssl || ssl == NULL || SSL_get_current_cipher(ssl) == NULL)
		return;
	attempt->ssl = true;
	capture_tls(port, attempt);
}

/*
 * Whether the server received the client's Finished message.  After a
 * fatal error OpenSSL no longer says SSL_is_init_finished(), but it keeps
 * the Finished message of a handshake that completed.
 */
static bool
handshake_completed(SSL *ssl)
{
	unsigned char finished[EVP_MAX_MD_SIZE];

	return SSL_is_init_finished(ssl) ||
		SSL_get_peer_finished(ssl, finished, sizeof(finished)) > 0;
}

/* What every TLS session has: how it was negotiated and its parameters. */
static void
capture_tls(Port *port, AuditAttempt *attempt)
{
	SSL		   *ssl = (SSL *) port->ssl;
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	int			group;
	const unsigned char *alpn = NULL;
	unsigned int alpn_length = 0;

	attempt->tls_negotiation = PGTLS_DIRECT_TLS(port) ? "direct" : "postgres";
	attempt->tls_version = SSL_get_version(ssl);
	attempt->tls_version_number = SSL_version(ssl);

	if (cipher != NULL)
	{
		int			kx = SSL_CIPHER_get_kx_nid(cipher);

		attempt->cipher = SSL_CIPHER_get_name(cipher);
		attempt->cipher_id = SSL_CIPHER_get_id(cipher);
		attempt->cipher_bits = SSL_CIPHER_get_bits(cipher, NULL);

		/* TLS 1.3 reports NID_kx_any: its key exchange is always ephemeral */
		attempt->forward_secrecy = (kx == NID_kx_ecdhe ||
									kx == NID_kx_dhe ||
									kx == NID_kx_ecdhe_psk ||
									kx == NID_kx_dhe_psk ||
									kx == NID_kx_any);
	}

	group = SSL_get_negotiated_group(ssl);
	if (group != 0)
		attempt->key_exchange_group = SSL_group_to_name(ssl, group);

	attempt->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
	if (alpn != NULL && alpn_length > 0)
		attempt->alpn = pnstrdup((const char *) alpn, alpn_length);
}

/* The facts of a certificate: the client's, or the server's for views.c. */
void
capture_certificate(X509 *cert, AuditAttempt *attempt)
{
	EVP_PKEY   *key = X509_get0_pubkey(cert);
	int			signature_nid = X509_get_signature_nid(cert);
	int			digest_nid;

	attempt->cert_present = true;
	attempt->cert_subject = name_to_rfc2253(X509_get_subject_name(cert));
	attempt->cert_issuer = name_to_rfc2253(X509_get_issuer_name(cert));
	attempt->cert_serial = serial_to_decimal(X509_get0_serialNumber(cert));
	attempt->cert_fingerprint = sha256_fingerprint(cert);
	attempt->cert_not_before = asn1_time_to_timestamptz(X509_get0_notBefore(cert));
	attempt->cert_not_after = asn1_time_to_timestamptz(X509_get0_notAfter(cert));

	if (key != NULL)
	{
		attempt->cert_key_algorithm = EVP_PKEY_get0_type_name(key);
		attempt->cert_key_type = Max(EVP_PKEY_get_base_id(key), NID_undef);
		attempt->cert_key_bits = EVP_PKEY_get_bits(key);
		attempt->cert_security_bits = Max(EVP_PKEY_get_security_bits(key), 0);
	}
	if (signature_nid != NID_undef)
		attempt->cert_signature_algorithm = OBJ_nid2ln(signature_nid);

	/*
	 * The digest inside the signature algorithm, RSA-PSS parameters included;
	 * Ed25519 and Ed448 sign without a separate one.  The certificate's
	 * extensions are cached by its verification already, so this is a lookup.
	 */
	if (X509_get_signature_info(cert, &digest_nid, NULL, NULL, NULL) &&
		digest_nid > NID_undef)
		attempt->cert_signature_digest = digest_nid;
}

/*
 * A DN in RFC 2253 form, in full.  Non-ASCII characters stay UTF-8 so that
 * a DBA can read them; control characters are escaped by OpenSSL (and
 * again by the log writer).
 */
static char *
name_to_rfc2253(X509_NAME *name)
{
	BIO		   *bio;
	BUF_MEM    *mem;
	char	   *result = NULL;

	if (name == NULL)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0,
						   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
		BIO_get_mem_ptr(bio, &mem) > 0)
		result = pnstrdup(mem->data, mem->length);
	BIO_free(bio);
	return result;
}

static char *
serial_to_decimal(const ASN1_INTEGER *serial)
{
	BIGNUM	   *bn;
	char	   *digits;
	char	   *result = NULL;

	if (serial == NULL)
		return NULL;
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	if (bn == NULL)
		return NULL;
	digits = BN_bn2dec(bn);
	if (digits != NULL)
	{
		result = pstrdup(digits);
		OPENSSL_free(digits);
	}
	BN_free(bn);
	return result;
}

/* The same form as "openssl x509 -fingerprint -sha256": AB:CD:... */
static char *
sha256_fingerprint(X509 *cert)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length;
	char	   *result;
	char	   *out;

	if (!X509_digest(cert, sha256 ? sha256 : EVP_sha256(), digest, &length) ||
		length == 0)
		return NULL;
	result = out = palloc(length * 3);
	for (unsigned int i = 0; i < length; i++)
	{
		if (i > 0)
			*out++ = ':';
		*out++ = hex[digest[i] >> 4];
		*out++ = hex[digest[i] & 0x0F];
	}
	*out = '\0';
	return result;
}

static TimestampTz
asn1_time_to_timestamptz(const ASN1_TIME *time)
{
	struct tm	tm;

	if (time == NULL || !ASN1_TIME_to_tm(time, &tm))
		return DT_NOBEGIN;
	return time_t_to_timestamptz(timegm(&tm));
}
