import { securityMapMarkdown } from './security-map.js';

console.log(securityMapMarkdown());
