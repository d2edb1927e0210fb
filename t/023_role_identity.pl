
# Copyright (c) pgtls_audit contributors

# Visibility follows the role, not its name: a role created under the name
# of a dropped role does not see its predecessor's attempts (client
# addresses, certificate DNs), in history or summary; a failed login under
# a name that is no role is shown only to pg_read_all_stats.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('identity', $pki);
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'carol', 'observer');

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }

# What carol sees of carol, in the views, as carol.
sub seen_by_carol
{
	return $node->safe_psql(
		'postgres', q{
SELECT (SELECT count(*) FROM pgtls_audit.history WHERE user_name = 'carol'
          AND pid <> pg_backend_pid()),
       (SELECT coalesce(sum(count), 0) FROM pgtls_audit.summary
         WHERE user_name = 'carol')},
		connstr => connstr(user => 'carol', password => 'carol-secret'));
}

# The first carol connects twice over TLS.
$node->safe_psql('postgres', 'SELECT 1',
	connstr => connstr(user => 'carol', password => 'carol-secret'))
  foreach 1 .. 2;
is(seen_by_carol(), '2|3', 'carol sees her own attempts');

# She is dropped; a new role takes her name.
$node->safe_psql('postgres',
	"DROP ROLE carol; CREATE ROLE carol LOGIN PASSWORD 'carol-secret'");
is(seen_by_carol(), '0|1',
	'the new carol sees only her own attempt, not her predecessor\'s');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pgtls_audit.history WHERE user_name = 'carol'}),
	'4', 'a superuser sees the attempts of both');

# A failed login under a name that is no role.
my ($ret) = $node->psql('postgres', 'SELECT 1',
	connstr => connstr(user => 'nosuchrole', password => 'guess'));
isnt($ret, 0, 'a login as a name that is no role fails');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) FROM pgtls_audit.history WHERE user_name = 'nosuchrole'},
		connstr => connstr(user => 'observer', password => 'observer-secret')),
	'0', 'an unprivileged role does not see it');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO observer');
is( $node->safe_psql(
		'postgres',
		q{SELECT count(*) > 0, bool_and(outcome = 'auth_failed')
		    FROM pgtls_audit.history WHERE user_name = 'nosuchrole'},
		connstr => connstr(user => 'observer', password => 'observer-secret')),
	't|t', 'pg_read_all_stats sees it');

$node->stop;
done_testing();
