"""DynamoDB, by layer: keys (the table's layout), codecs (items <-> model), dynamo (expression builders
and transactions), guarantees (each rule as the condition of its write), store (one method per outcome)
and outcomes (what a write whose condition failed found)."""
