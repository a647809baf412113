use super::*;

fn err(text: &str) -> String {
    parse(text, Mode::Controller).unwrap_err().to_string()
}

#[test]
fn probe_decode_errors() {
    for t in [
        "peers:\n- my-asn: 1\n  bogus: 2\n",
        "address-pools:\n- name: a\n  name: b\n",
        "peers:\n- my-asn: x\n",
        "bogus: 1\n",
        "peers: [\n",
    ] {
        eprintln!("{t:?} => {}", err(t));
    }
    let ok = parse(
        "peers:\n- my-asn: 1\n  peer-asn: 2\n  peer-address: 10.0.0.1\n  password: 12345\n  hold-time: 90s\n  ebgp-multihop: yes\n",
        Mode::Controller,
    );
    eprintln!("{ok:?}");
    assert!(ok.is_ok());
}
