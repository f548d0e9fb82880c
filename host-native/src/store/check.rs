//! Page checks that tolerate what a crash can leave behind.

use xaeroflux_core::page::{PAGE_HEADER_LEN, PageConfig, PageDecodeError, PageHeader, PageRef};

/// Checks a page whose bytes past its header's `used` may hold the leftovers of an
/// interrupted write (a tail page): the header, checksum and events must be valid; the
/// padding is not looked at. Returns the header and whether the padding was dirty.
pub(crate) fn check_tail(bytes: &[u8], config: &PageConfig) -> Result<(PageHeader, bool), PageDecodeError> {
    let Some(head) = bytes.get(..PAGE_HEADER_LEN) else {
        return Err(PageDecodeError::TooShort(bytes.len()));
    };
    let header: PageHeader = *bytemuck::from_bytes::<PageHeader>(head);
    let end = PAGE_HEADER_LEN.saturating_add(header.used() as usize);
    let dirty = bytes.get(end..).is_some_and(|p| p.iter().any(|&b| b != 0));
    if !dirty {
        PageRef::parse(bytes, config)?;
        return Ok((header, false));
    }
    let mut copy = bytes.to_vec();
    if let Some(p) = copy.get_mut(end..) {
        p.fill(0);
    }
    PageRef::parse(&copy, config)?;
    Ok((header, true))
}
