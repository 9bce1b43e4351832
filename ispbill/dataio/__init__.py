"""Data in and out: customer and bank-statement imports, accounting exports, reports."""
