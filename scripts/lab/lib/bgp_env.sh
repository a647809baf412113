# Shared by scripts/lab/bgp.sh and scripts/bench/bgp.sh (sourced, not run): the namespaces,
# the peer daemons (BIRD 2, GoBGP, FRR) with generated configs, and their queries.
#
# Layout: namespace $P-node runs our speaker (speaker/examples/bgp_peer); one namespace per
# daemon, each joined to the node by its own veth pair. For daemon number X:
#   node:   10.X.0.1/24, 10.X.0.11/24 (source address of the MD5 session), fd0X::1/64
#   daemon: 10.X.0.2/24, 10.X.0.12/24 (MD5 session's far end),            fd0X::2/64
# Every daemon is AS 64512 and passive (it never dials; the speaker never listens).
# Callers set P (namespace prefix) and WORK (scratch dir) and call lab_cleanup on exit.

LAB_ASN=64512
MD5_PASSWORD=lab-md5-secret
declare -A DAEMON_PID=()

in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

lab_install() {
    local need=()
    command -v bird >/dev/null || need+=(bird2)
    command -v gobgpd >/dev/null || need+=(gobgpd)
    [[ -x /usr/lib/frr/bgpd ]] || need+=(frr)
    command -v jq >/dev/null || need+=(jq)
    command -v tcpdump >/dev/null || need+=(tcpdump)
    command -v ip >/dev/null || need+=(iproute2)
    if ((${#need[@]})); then
        echo "lab: installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

# lab_link NAME X: namespace $P-NAME joined to $P-node with the addresses above.
lab_link() {
    local name=$1 x=$2
    ip netns add "$P-$name"
    in_ns "$name" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip link add "to-$name" netns "$P-node" type veth peer name eth0 netns "$P-$name"
    in_ns node ip addr add "10.$x.0.1/24" dev "to-$name"
    in_ns node ip addr add "10.$x.0.11/24" dev "to-$name"
    in_ns node ip addr add "fd0$x::1/64" dev "to-$name"
    in_ns "$name" ip addr add "10.$x.0.2/24" dev eth0
    in_ns "$name" ip addr add "10.$x.0.12/24" dev eth0
    in_ns "$name" ip addr add "fd0$x::2/64" dev eth0
    in_ns node ip link set "to-$name" up
    in_ns "$name" ip link set lo up
    in_ns "$name" ip link set eth0 up
}

lab_topology() {
    ip netns add "$P-node"
    in_ns node sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    in_ns node ip link set lo up
    lab_link bird 1
    lab_link gobgp 2
    lab_link frr 3
}

lab_cleanup() {
    set +e
    for d in "${!DAEMON_PID[@]}"; do
        kill -CONT "${DAEMON_PID[$d]}" 2>/dev/null
        kill "${DAEMON_PID[$d]}" 2>/dev/null
    done
    [[ -f $WORK/frr/bgpd.pid ]] && kill "$(cat "$WORK/frr/bgpd.pid")" 2>/dev/null
    [[ -f $WORK/frr/zebra.pid ]] && kill "$(cat "$WORK/frr/zebra.pid")" 2>/dev/null
    sleep 0.3
    for ns in node bird gobgp frr gobgp2; do ip netns del "$P-$ns" 2>/dev/null; done
    rm -rf "/var/run/frr/$P"
}

# --- BIRD 2 (daemon 1) -------------------------------------------------------------------
bird_config() {
    cat >"$WORK/bird.conf" <<EOF
router id 10.1.0.2;
protocol device {}
protocol direct { ipv4; ipv6; }
template bgp lab {
    local as $LAB_ASN;
    passive on;
    direct;
    # After an error BIRD refuses the neighbour for 60 s by default; the lab wants it back.
    error wait time 1, 2;
    ipv4 { import all; export none; gateway direct; };
    ipv6 { import all; export none; gateway direct; };
}
protocol bgp s_ibgp4 from lab { local 10.1.0.2 as $LAB_ASN; neighbor 10.1.0.1 as $LAB_ASN; }
protocol bgp s_ebgp6 from lab { local fd01::2 as $LAB_ASN; neighbor fd01::1 as 65001; }
protocol bgp s_md5 from lab { local 10.1.0.12 as $LAB_ASN; neighbor 10.1.0.11 as 65002; password "$MD5_PASSWORD"; }
EOF
}

bird_start() {
    ip netns exec "$P-bird" bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" >"$WORK/bird.log" 2>&1 &
    DAEMON_PID[bird]=$!
}

birdc_() { in_ns bird birdc -s "$WORK/bird.ctl" "$@"; }

# --- GoBGP (daemon 2) --------------------------------------------------------------------
gobgp_neighbor() {
    local addr=$1 asn=$2 extra=${3:-}
    cat <<EOF
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$addr"
    peer-as = $asn
$extra
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
EOF
}

gobgp_config() {
    {
        printf '[global.config]\n  as = %s\n  router-id = "10.2.0.2"\n' "$LAB_ASN"
        gobgp_neighbor 10.2.0.1 "$LAB_ASN"
        gobgp_neighbor fd02::1 65001
        gobgp_neighbor 10.2.0.11 65002 "    auth-password = \"$MD5_PASSWORD\""
    } >"$WORK/gobgpd.toml"
}

gobgp_start() {
    ip netns exec "$P-gobgp" gobgpd -t toml -f "$WORK/gobgpd.toml" --log-level=info \
        >"$WORK/gobgpd.log" 2>&1 &
    DAEMON_PID[gobgp]=$!
}

gobgp_() { in_ns gobgp gobgp "$@"; }

# --- FRR (daemon 3): zebra + bgpd under their own pathspace --------------------------------
frr_config() {
    mkdir -p "$WORK/frr" "/var/run/frr/$P"
    # The daemons drop to user frr and must reach their files.
    chmod 755 "$WORK"
    chown -R frr:frr "$WORK/frr" "/var/run/frr/$P" 2>/dev/null || true
    echo "hostname frr-lab" >"$WORK/frr/zebra.conf"
    cat >"$WORK/frr/bgpd.conf" <<EOF
hostname frr-lab
router bgp $LAB_ASN
 bgp router-id 10.3.0.2
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 10.3.0.1 remote-as $LAB_ASN
 neighbor 10.3.0.1 passive
 neighbor fd03::1 remote-as 65001
 neighbor fd03::1 passive
 neighbor 10.3.0.11 remote-as 65002
 neighbor 10.3.0.11 passive
 neighbor 10.3.0.11 password $MD5_PASSWORD
 neighbor 10.3.0.11 update-source 10.3.0.12
 address-family ipv4 unicast
  neighbor 10.3.0.1 activate
  neighbor fd03::1 activate
  neighbor 10.3.0.11 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor 10.3.0.1 activate
  neighbor fd03::1 activate
  neighbor 10.3.0.11 activate
 exit-address-family
EOF
}

frr_start() {
    if ! { [[ -f $WORK/frr/zebra.pid ]] && kill -0 "$(cat "$WORK/frr/zebra.pid")" 2>/dev/null; }; then
        in_ns frr /usr/lib/frr/zebra -d -N "$P" -f "$WORK/frr/zebra.conf" \
            -i "$WORK/frr/zebra.pid" >"$WORK/frr/zebra.log" 2>&1
    fi
    # bgpd stays in the foreground under our control, so its PID is $!.
    ip netns exec "$P-frr" /usr/lib/frr/bgpd -N "$P" -f "$WORK/frr/bgpd.conf" \
        -i "$WORK/frr/bgpd.pid" >"$WORK/frr/bgpd.log" 2>&1 &
    DAEMON_PID[frr]=$!
}

vtysh_() { in_ns frr vtysh -N "$P" "$@"; }

# --- our speaker ---------------------------------------------------------------------------

# The nine sessions: per daemon X an iBGP one over IPv4, an eBGP one over IPv6 (AS 65001),
# and an eBGP one over IPv4 from a source address with TCP-MD5 (AS 65002).
lab_peer_args() {
    local x
    for x in 1 2 3; do
        printf -- '--peer 10.%s.0.2/%s/%s ' "$x" "$LAB_ASN" "$LAB_ASN"
        printf -- '--peer fd0%s::2/%s/65001 ' "$x" "$LAB_ASN"
        printf -- '--peer 10.%s.0.12/%s/65002/%s,src=10.%s.0.11 ' "$x" "$LAB_ASN" "$MD5_PASSWORD" "$x"
    done
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    while ((SECONDS < end)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "lab: timed out after ${secs}s waiting for $what"
    return 1
}
