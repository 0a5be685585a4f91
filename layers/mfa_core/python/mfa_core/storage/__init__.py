"""DynamoDB, by layer: keys (the table's layout), codecs (items <-> model), dynamo (expression builders
and transactions), guarantees (each rule as the condition of its write) and store (one method per outcome)."""
