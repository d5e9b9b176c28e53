"""Reports: `figures` computes what a report says; `workbook` (and later the document) writes it;
`jobs` keeps the Report rows and runs them. Figures never import the writers."""
