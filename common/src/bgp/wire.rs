//! Bounds-checked big-endian reading, so that no decoder can index past a peer's buffer.
//!
//! Every accessor returns `None` when the input is short; callers turn that into the
//! NOTIFICATION that fits their context (a short capability is an OPEN error, a short
//! attribute an UPDATE error), which is why this type carries no error of its own.

/// A cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// Everything not yet read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }
}

/// Writes a length-prefixed block whose length is only known after its body: reserves the
/// length field, runs `body`, then patches the field. Returns `None` if the body is longer
/// than the field can express, so that no encoder silently truncates a length.
pub(crate) fn with_u8_len(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) -> Option<()> {
    let at = out.len();
    out.push(0);
    body(out);
    let len = u8::try_from(out.len() - at - 1).ok()?;
    *out.get_mut(at)? = len;
    Some(())
}

/// Like [`with_u8_len`] with a two-byte big-endian length.
pub(crate) fn with_u16_len(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) -> Option<()> {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    body(out);
    let len = u16::try_from(out.len() - at - 2).ok()?;
    out.get_mut(at..at + 2)?.copy_from_slice(&len.to_be_bytes());
    Some(())
}
