"""Platform profiles (limits, counting rules, hashtag forms, each with its source) as data,
and the counting each platform does."""
