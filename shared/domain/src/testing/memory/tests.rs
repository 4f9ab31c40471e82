//! The storage doubles keep the ports' contracts as the DynamoDB adapter does.
