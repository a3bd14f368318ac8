#!/bin/sh
# Test credentials, made at test time (no key is ever committed), in the
# layout QEMU's tls-creds-x509 reads (ca-cert.pem, server-cert.pem,
# server-key.pem, client-cert.pem, client-key.pem):
#
#   gencerts.sh DIR
#     DIR/good     a CA; the destination dest.migsend.test (also 10.78.0.2
#                  and 10.77.0.2: netns.sh's and the benchmark's peer, and
#                  127.0.0.1), the source src.migsend.test (10.78.0.1,
#                  10.77.0.1)
#     DIR/otherca  the same names signed by another CA
#     DIR/expired  good's CA, certificates that expired in 2020
#     DIR/keys.psk, DIR/wrong.psk   QEMU's PSK format, identity:hexkey
#
# EC P-256 keys: fast to make even under TCG.  Needs openssl.
set -e
OPENSSL=${OPENSSL:-openssl}
d=$1
[ -n "$d" ] || { echo "usage: gencerts.sh DIR" >&2; exit 64; }
rm -rf "$d"
mkdir -p "$d/good" "$d/otherca" "$d/expired" "$d/work"
w=$d/work
cat >"$w/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:dest.migsend.test,IP:10.78.0.2,IP:10.77.0.2,IP:127.0.0.1
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:src.migsend.test,IP:10.78.0.1,IP:10.77.0.1
[ca]
default_ca = ca_default
[ca_default]
dir = .
database = $ENV::CADIR/index.txt
new_certs_dir = $ENV::CADIR
serial = $ENV::CADIR/serial
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
organizationName = optional
EOF
export OPENSSL_CONF="$w/openssl.cnf" CADIR="$w"

key() { $OPENSSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME: a CA in $w/NAME
ca() {
	mkdir -p "$w/$1"
	: >"$w/$1/index.txt"
	echo 01 >"$w/$1/serial"
	key "$w/$1/ca-key.pem"
	$OPENSSL req -new -x509 -key "$w/$1/ca-key.pem" -out "$w/$1/ca-cert.pem" \
		-subj "/O=migsend test/CN=migsend test CA $1" -days 30 -extensions ca_ext
}

# cert CA OUTDIR ROLE SUBJECT [ca options...]: OUTDIR/ROLE-cert.pem, -key.pem
cert() {
	cadir=$w/$1 out=$2 role=$3 subj=$4
	shift 4
	key "$out/$role-key.pem"
	$OPENSSL req -new -key "$out/$role-key.pem" -subj "$subj" -out "$w/req.csr"
	CADIR=$cadir $OPENSSL ca -batch -notext -cert "$cadir/ca-cert.pem" \
		-keyfile "$cadir/ca-key.pem" -in "$w/req.csr" -out "$out/$role-cert.pem" \
		-extensions "${role}_ext" "$@" 2>/dev/null
}

ca main
ca other
for dir in good otherca expired; do
	case $dir in otherca) c=other ;; *) c=main ;; esac
	cp "$w/$c/ca-cert.pem" "$d/$dir/ca-cert.pem"
	case $dir in
	expired) dates="-startdate 20200101000000Z -enddate 20200201000000Z" ;;
	*) dates="-days 30" ;;
	esac
	# shellcheck disable=SC2086
	cert $c "$d/$dir" server "/O=migsend test/CN=dest.migsend.test" $dates
	# shellcheck disable=SC2086
	cert $c "$d/$dir" client "/O=migsend test/CN=src.migsend.test" $dates
done
# The expired directory trusts the good CA, so only the dates are wrong.
printf 'migsend:%s\n' "$($OPENSSL rand -hex 32)" >"$d/keys.psk"
printf 'migsend:%s\n' "$($OPENSSL rand -hex 32)" >"$d/wrong.psk"
chmod 600 "$d/keys.psk" "$d/wrong.psk" "$d"/*/*-key.pem
rm -rf "$w"
