//! What every store port shares: pages of a list, why a store operation did not happen,
//! and the one helper that reads a list to its end.

use std::future::Future;

use crate::kernel::error::{DomainError, UpstreamError};

/// Largest page any list answers.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Which page of a list to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (1..=[`MAX_PAGE_SIZE`]).
    pub limit: u32,
    /// The `nextToken` of the previous page.
    pub token: Option<String>,
}

impl PageRequest {
    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { limit: limit.clamp(1, MAX_PAGE_SIZE), token: None }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// At most the request's `limit`, in the list's order; the last page may be empty.
    pub items: Vec<T>,
    /// Pass it back to get the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold: someone else wrote first.
    #[error("conditional write lost")]
    Conflict,
    /// The page token is not one this list handed out.
    #[error("the page token is not valid for this list")]
    BadPageToken,
    /// The store itself failed (throttled, unreachable, refused); see `retryable`.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => DomainError::Concurrent,
            StoreError::BadPageToken => DomainError::invalid("nextToken", "is not a token this list handed out"),
            StoreError::Upstream(u) => DomainError::Upstream(u),
        }
    }
}

/// Reads a list page by page ([`MAX_PAGE_SIZE`] items at a time) and hands each page's
/// items to `each`, until the last page. `read` gets the page to read.
async fn for_each_page<T, E, F, Fut>(mut read: F, mut each: impl FnMut(Vec<T>) -> Result<(), E>) -> Result<(), E>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, E>>,
{
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let read = read(page.clone()).await?;
        each(read.items)?;
        match read.next_token {
            Some(token) => page.token = Some(token),
            None => return Ok(()),
        }
    }
}

/// Every item of a list, in the list's order, read [`MAX_PAGE_SIZE`] items at a time.
pub async fn all_pages<T, E, F, Fut>(read: F) -> Result<Vec<T>, E>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, E>>,
{
    let mut all = Vec::new();
    for_each_page(read, |items| {
        all.extend(items);
        Ok(())
    })
    .await?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list of `n` numbers served `limit` at a time, counting the reads.
    async fn numbers(n: u32, page: PageRequest, reads: &std::cell::Cell<u32>) -> Result<Page<u32>, StoreError> {
        reads.set(reads.get() + 1);
        let from: u32 = page.token.as_deref().map_or(Ok(0), str::parse).map_err(|_| StoreError::BadPageToken)?;
        let to = (from + page.limit).min(n);
        Ok(Page { items: (from..to).collect(), next_token: (to < n).then(|| to.to_string()) })
    }

    #[tokio::test]
    async fn every_page_is_read_once_in_order() {
        let reads = std::cell::Cell::new(0);
        let all = all_pages(|page| numbers(250, page, &reads)).await.expect("read");
        assert_eq!(all, (0..250).collect::<Vec<_>>());
        assert_eq!(reads.get(), 3, "pages of {MAX_PAGE_SIZE}");
        let reads = std::cell::Cell::new(0);
        assert!(all_pages(|page| numbers(0, page, &reads)).await.expect("read").is_empty());
        assert_eq!(reads.get(), 1, "an empty list is one read");
    }

    #[tokio::test]
    async fn an_error_stops_the_reading() {
        let reads = std::cell::Cell::new(0);
        let mut pages = 0;
        let outcome = for_each_page(
            |page| numbers(250, page, &reads),
            |_| {
                pages += 1;
                if pages == 2 { Err(StoreError::Conflict) } else { Ok(()) }
            },
        )
        .await;
        assert!(matches!(outcome, Err(StoreError::Conflict)));
        assert_eq!(reads.get(), 2);
    }
}
